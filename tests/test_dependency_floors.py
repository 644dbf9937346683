"""The runtime dependency floors, the hash-locked image requirements, and what is installed.

pyproject.toml keeps ranges (a library must not pin), with floors past every published advisory;
``deploy/requirements.lock`` pins exact, hashed versions for the image; ``scripts/floor-smoke``
runs the app on the floors themselves. These tests keep the three consistent.
"""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "deploy" / "requirements.lock"
DEPENDENCIES = [
    Requirement(line)
    for line in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
]
# The floors that close known advisories (README "Dependencies"): never lowered by accident.
ADVISORY_FLOORS = {
    "starlette": "1.3.1",
    "h11": "0.16.0",
    "authlib": "1.6.12",
    "redis": "5.0.1",
    "cryptography": "50.0.0",
}


def locked() -> dict[str, tuple[Version, int]]:
    """``name -> (pinned version, number of hashes)`` from the lock."""
    pins: dict[str, tuple[Version, int]] = {}
    name = ""
    for line in LOCK.read_text().splitlines():
        pin = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
        if pin:
            name = canonicalize_name(pin.group(1))
            pins[name] = (Version(pin.group(2)), 0)
        elif "--hash=sha256:" in line and name:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


@pytest.mark.parametrize("requirement", DEPENDENCIES, ids=lambda r: r.name)
def test_every_floor_is_one_lower_bound(requirement: Requirement) -> None:
    floors = [spec for spec in requirement.specifier if spec.operator == ">="]
    assert len(floors) == 1, "scripts/floor-smoke pins each dependency to its one '>=' floor"
    assert not [spec for spec in requirement.specifier if spec.operator in ("==", "<", "<=")]


@pytest.mark.parametrize(("name", "floor"), sorted(ADVISORY_FLOORS.items()))
def test_floors_stay_past_the_advisories(name: str, floor: str) -> None:
    (requirement,) = [r for r in DEPENDENCIES if canonicalize_name(r.name) == name]
    (spec,) = requirement.specifier
    assert Version(spec.version) >= Version(floor)


@pytest.mark.parametrize("requirement", DEPENDENCIES, ids=lambda r: r.name)
def test_installed_versions_satisfy_the_floors(requirement: Requirement) -> None:
    installed = importlib.metadata.version(requirement.name)
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{requirement.name} {installed} is installed; pyproject.toml asks {requirement}"
    )


@pytest.mark.parametrize("requirement", DEPENDENCIES, ids=lambda r: r.name)
def test_the_lock_pins_every_dependency_past_its_floor_with_hashes(
    requirement: Requirement,
) -> None:
    pins = locked()
    name = canonicalize_name(requirement.name)
    assert name in pins, f"{name} is missing from deploy/requirements.lock: run scripts/lock"
    version, hashes = pins[name]
    assert requirement.specifier.contains(version, prereleases=True)
    assert hashes >= 1


def test_every_locked_package_has_hashes() -> None:
    pins = locked()
    assert pins
    assert all(hashes >= 1 for _version, hashes in pins.values())


def test_the_image_installs_exactly_the_lock() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "pip wheel --require-hashes --wheel-dir /wheels -r requirements.lock" in dockerfile
    assert "--require-hashes -r /wheels/requirements.lock" in dockerfile
    assert "pip install --no-index --no-deps /wheels/fanvue_embedded-" in dockerfile
    assert "!deploy/requirements.lock" in (ROOT / "deploy" / "Dockerfile.dockerignore").read_text()
