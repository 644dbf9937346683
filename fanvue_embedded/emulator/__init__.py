"""A local Fanvue: platform, OAuth (Hydra rules), API, faults and counters, in one server.

It imports no client-side module of ``fanvue_embedded`` so a client bug cannot be mirrored.
Run it with ``python -m fanvue_embedded.emulator``; drive it through ``/_emulator/``.
"""

from __future__ import annotations

from .app import Emulator, create_emulator_app
from .config import EmulatorConfig
from .runner import run_emulator

__all__ = ["Emulator", "EmulatorConfig", "create_emulator_app", "run_emulator"]
