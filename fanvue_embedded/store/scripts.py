"""The store's Lua scripts, read once from the ``lua/`` files shipped inside the package.

Each is a compare-and-act on one creator's keys (one Cluster slot; on a standalone server
also the keepalive set), run with EVALSHA by
redis-py's ``register_script``.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = [
    "ABORT",
    "ATTEMPT",
    "BEGIN",
    "CLEAR_ATTEMPT",
    "COMMIT",
    "DELETE",
    "MARK",
    "REENCRYPT",
    "SAVE",
]


def _load(name: str) -> str:
    return files(__package__).joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


SAVE = _load("save")
MARK = _load("mark")
ATTEMPT = _load("attempt")
CLEAR_ATTEMPT = _load("clear_attempt")
REENCRYPT = _load("reencrypt")
BEGIN = _load("begin")
COMMIT = _load("commit")
ABORT = _load("abort")
DELETE = _load("delete")
