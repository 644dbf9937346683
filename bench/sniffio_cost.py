"""13. What a missing ``sniffio`` costs every plain httpx request.

httpcore asks ``import sniffio`` on every request (to learn the async library). Installed, that
is a ``sys.modules`` hit; absent, every request pays a failed import: the finders walk
``sys.path`` and raise ``ModuleNotFoundError``. ``sniffio`` is now a dependency. Measured in one
process with interleaved blocks of sequential GETs to the emulator: "absent" removes sniffio
from ``sys.modules`` and puts a finder first that does the same path search for a module that
does not exist (what a real absence costs), then gives up.
"""

from __future__ import annotations

import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import httpx

from .common import BenchEnv, Section, median, spread, time_loop


class _Absent:
    """A meta-path finder that makes ``import sniffio`` fail as a real absence would."""

    @classmethod
    def find_spec(
        cls, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> Any:
        if name == "sniffio" or name.startswith("sniffio."):
            # The same directory searches a real miss makes, for a name nobody has.
            importlib.machinery.PathFinder.find_spec("sniffio_is_not_installed", path)
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _hide() -> dict[str, ModuleType]:
    hidden = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] == "sniffio"}
    for name in hidden:
        del sys.modules[name]
    sys.meta_path.insert(0, _Absent)
    return hidden


def _restore(hidden: dict[str, ModuleType]) -> None:
    sys.meta_path.remove(_Absent)
    sys.modules.update(hidden)


async def run(env: BenchEnv) -> Section:
    trials, calls = (6, 50) if env.quick else (40, 100)
    with_sniffio: list[float] = []
    without: list[float] = []
    async with httpx.AsyncClient(base_url=env.emulator.base_url, timeout=30) as client:

        async def get() -> object:
            return await client.get("/_emulator/counters")

        await time_loop(get, 50)
        for _ in range(trials):
            with_sniffio.append(await time_loop(get, calls))
            hidden = _hide()
            try:
                without.append(await time_loop(get, calls))
            finally:
                _restore(hidden)
    ratios = [a / b for a, b in zip(with_sniffio, without, strict=True)]
    ratio = median(ratios)
    return Section(
        key="sniffio",
        title="13. A plain httpx request with sniffio installed vs absent",
        goal="reported (sniffio is now a dependency)",
        met=None,
        headline=f"{ratio:.2f}x the time per request with sniffio installed",
        rows=[
            (
                "installed / absent (median of per-trial ratios)",
                f"{ratio:.2f}x (trials {spread(ratios)})",
            ),
            ("GET with sniffio installed", f"{median(with_sniffio) * 1e6:.0f} µs median"),
            ("GET with sniffio absent", f"{median(without) * 1e6:.0f} µs median"),
            ("trials", f"{trials} blocks x {calls} sequential GETs per side, interleaved"),
        ],
        notes=[
            "The emulator answers in the same machine, so the request itself is cheap and "
            "the failed import is a visible share of it; over a real network the share is "
            "smaller, but it is CPU every request of every process pays.",
        ],
    )
