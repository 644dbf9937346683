"""scripts/generate-api: the staleness check fails on an edited or extra generated file, the
hand-written mixins become base classes, and mypy rejects misuse of the generated types.

The generator runs as CI runs it (a subprocess of this venv's Python) on copies of the
committed package in a temporary directory; the committed files are never touched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fanvue_embedded" / "api"
GENERATOR = ROOT / "scripts" / "generate_api.py"


def generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "api"
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_committed_package_is_up_to_date(copy: Path) -> None:
    result = generator("--check", "--target", str(copy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_an_edited_generated_file_fails_the_check(copy: Path) -> None:
    users = copy / "users.py"
    users.write_text(users.read_text().replace("async def me(", "async def whoami("))
    result = generator("--check", "--target", str(copy))
    assert result.returncode == 1
    assert "stale generated files" in result.stdout
    assert "users.py" in result.stdout
    assert "-    async def whoami(" in result.stdout  # the diff shows the edit


def test_a_missing_or_leftover_generated_file_fails_the_check(copy: Path) -> None:
    (copy / "followers.py").unlink()
    leftover = copy / "old_resource.py"
    leftover.write_text((copy / "users.py").read_text())  # carries the generated header
    result = generator("--check", "--target", str(copy))
    assert result.returncode == 1
    assert "followers.py" in result.stdout
    assert "old_resource.py" in result.stdout


def test_hand_written_files_are_not_checked(copy: Path) -> None:
    runtime = copy / "_runtime.py"
    runtime.write_text(runtime.read_text() + "\n# a hand-written change\n")
    assert generator("--check", "--target", str(copy)).returncode == 0


def test_an_extras_class_becomes_the_resource_base_class(tmp_path: Path, copy: Path) -> None:
    extras = tmp_path / "extras.py"
    extras.write_text(
        "from __future__ import annotations\n\n\n"
        "class ChatsExtras:\n    async def archive_all(self) -> None: ...\n"
    )
    result = generator("--target", str(copy), "--extras", str(extras))
    assert result.returncode == 0, result.stderr
    chats = (copy / "chats.py").read_text()
    assert "class Chats(ChatsExtras):" in chats
    assert "from ._extras import ChatsExtras" in chats
    assert "class Media:" in (copy / "media.py").read_text()  # no extras here, no base
    # Against the committed extras (api.media.upload lives there) the files are now stale.
    assert generator("--check", "--target", str(copy)).returncode == 1
    # And the committed tree carries the committed extras.
    assert "class Media(MediaExtras):" in (PACKAGE / "media.py").read_text()
    creator_media = (PACKAGE / "creator" / "media.py").read_text()
    assert "class CreatorMedia(CreatorMediaExtras):" in creator_media


def test_an_extras_class_matching_no_resource_is_an_error(tmp_path: Path, copy: Path) -> None:
    extras = tmp_path / "extras.py"
    extras.write_text("class MediasExtras:\n    pass\n")
    result = generator("--check", "--target", str(copy), "--extras", str(extras))
    assert result.returncode != 0
    assert "MediasExtras" in result.stderr


MISUSE = """\
from fanvue_embedded.api import FanvueAPI


async def misuse(api: FanvueAPI, creator: str) -> None:
    user = await api.users.me()
    handle: str = user["handle"]
    count: str = user["likesCount"]
    await api.creator(creator).users.me()
    await api.chats.list(sort_by="newest")
    await api.posts.create(text="no audience")
    await api.chats.list(size="50")
    user["nickname"]
    assert handle
"""


@pytest.mark.slow
def test_mypy_rejects_misuse_of_the_typed_api(tmp_path: Path) -> None:
    snippet = tmp_path / "misuse.py"
    snippet.write_text(MISUSE)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    lines = {int(line.split(":")[1]) for line in result.stdout.splitlines() if ": error:" in line}
    # Exactly the misuses: the str field and the others pass.
    assert lines == {7, 8, 9, 10, 11, 12}, result.stdout
    assert 'has no attribute "me"' in result.stdout
    assert "Literal['newest']" in result.stdout
    assert '"audience"' in result.stdout
    assert '"nickname"' in result.stdout
