"""Session-wide security figures: every log line checked for tokens and secrets, fuzz tallies.

``tests/conftest.py`` installs a ``LogCapture`` on the root logger for the whole run (raw
records, before any redaction filter: the code must not log a token in the first place), scans
the subprocess log files the tests wrote, scans the session's Redis servers (standalone and
cluster) before every flush and at the end, and prints the figures kept in ``FIGURES``. A leak
is reported by kind and place only: printing the value found would leak it once more.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fanvue_embedded._devdefaults import DEV_CLIENT_SECRET, DEV_SESSION_SECRET
from tests.support.redis_scan import plaintext_keys
from tests.support.redis_topology import key_count, sync_client

LEAK_PATTERNS: dict[str, re.Pattern[str]] = {
    "client_secret": re.compile(re.escape(DEV_CLIENT_SECRET)),
    "session_secret": re.compile(re.escape(DEV_SESSION_SECRET)),
    "refresh_token": re.compile(r"ory_rt_[A-Za-z0-9_.~-]+"),
    "authorization_code": re.compile(r"ory_ac_[A-Za-z0-9_.~-]+"),
    # JWTs (Fanvue tokens, session tokens) and our app sessions: base64 JSON, a dot, more.
    "jwt_like": re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}"),
}

# Lines that carry a matching value on purpose — each allowed narrowly:
ALLOWED_LINES: tuple[re.Pattern[str], ...] = (
    # The start banners of `dev` and the emulator print the *public* dev client secret
    # (README: "On start it prints the registered app"); any other secret is never printed.
    re.compile(r"registered app: client id \S+, secret .* \(dev only\)"),
    re.compile(r"^\s*client secret: "),
    # A test's own httpx client requesting the standard-flow callback: the browser redirect
    # carries the authorization code in the query by design (RFC 6749 §4.1.2). The server's
    # access log of that request would still be flagged (it has another format).
    re.compile(r"^INFO httpx: HTTP Request: GET \S+/oauth/callback\?"),
)


@dataclass(frozen=True)
class Leak:
    """Where a secret-looking value was seen — never the value itself."""

    source: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.kind}"


def find_leaks(lines: Iterable[str], source: str = "log") -> list[Leak]:
    found: list[Leak] = []
    for number, line in enumerate(lines, start=1):
        if any(allowed.search(line) for allowed in ALLOWED_LINES):
            continue
        found.extend(
            Leak(source, number, kind)
            for kind, pattern in LEAK_PATTERNS.items()
            if pattern.search(line)
        )
    return found


def scan_log_files(directory: Path, pattern: str = "*.log") -> tuple[int, list[Leak]]:
    """Line count and leaks of every ``pattern`` file below ``directory`` (subprocess logs)."""
    total = 0
    leaks: list[Leak] = []
    for path in sorted(directory.rglob(pattern)):
        if not path.is_file():
            continue
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        total += len(lines)
        leaks += find_leaks(lines, source=str(path))
    return total, leaks


class LogCapture(logging.Handler):
    """Keeps every record as formatted text (message, arguments and traceback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self._lines: list[str] = []
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a broken record must not break the test that logged it
            text = str(record.msg)
        extras = " ".join(
            str(value) for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES
        )
        with self._guard:
            self._lines.extend(text.splitlines())
            if extras:
                self._lines.append(extras)

    def lines(self) -> list[str]:
        with self._guard:
            return list(self._lines)


_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


def scan_redis(redis_url: str) -> tuple[int, list[str]]:
    """Number of keys in the database (standalone or cluster) and the names of those holding
    token plaintext."""
    client = sync_client(redis_url)
    try:
        return key_count(client), plaintext_keys(client)
    finally:
        client.close()


@dataclass
class SecurityFigures:
    """What the run saw; printed by ``pytest_terminal_summary``."""

    fuzz_inputs: int = 0
    fuzz_5xx: int = 0
    fuzz_ran: bool = False
    hypothesis_inputs: int = 0
    hypothesis_5xx: int = 0
    hypothesis_ran: bool = False
    log_lines: int = 0
    log_leaks: list[Leak] = field(default_factory=list)
    log_scanned: bool = False
    redis_scans: int = 0
    redis_keys: int = 0
    redis_leaks: list[str] = field(default_factory=list)

    def record_fuzz(self, inputs: int, server_errors: int) -> None:
        self.fuzz_ran = True
        self.fuzz_inputs += inputs
        self.fuzz_5xx += server_errors

    def record_hypothesis_fuzz(self, inputs: int, server_errors: int) -> None:
        self.hypothesis_ran = True
        self.hypothesis_inputs += inputs
        self.hypothesis_5xx += server_errors

    def record_redis_scan(self, keys: int, leaks: list[str]) -> None:
        self.redis_scans += 1
        self.redis_keys += keys
        self.redis_leaks += leaks

    def failed(self) -> bool:
        return bool(self.log_leaks or self.redis_leaks)

    def to_wire(self) -> dict[str, object]:
        """These figures as plain values, for a pytest-xdist worker to hand to the controller
        (execnet carries only builtin types)."""
        wire: dict[str, object] = dict(vars(self))
        wire["log_leaks"] = [(leak.source, leak.line, leak.kind) for leak in self.log_leaks]
        return wire

    def merge(self, wire: dict[str, Any]) -> None:
        """Add one worker's :meth:`to_wire` figures to these: flags or'ed, counts added, lists
        joined (every field, so a figure added later is merged too)."""
        for item in fields(self):
            mine, theirs = getattr(self, item.name), wire[item.name]
            if isinstance(mine, bool):
                setattr(self, item.name, mine or bool(theirs))
            elif isinstance(mine, int):
                setattr(self, item.name, mine + int(theirs))
        self.log_leaks += [Leak(str(a), int(b), str(c)) for a, b, c in wire["log_leaks"]]
        self.redis_leaks += [str(key) for key in wire["redis_leaks"]]

    def summary(self) -> list[str]:
        lines: list[str] = []
        if self.fuzz_ran:
            lines.append(f"security: fuzz inputs={self.fuzz_inputs} 5xx={self.fuzz_5xx}")
        if self.hypothesis_ran:
            lines.append(
                f"security: hypothesis fuzz inputs={self.hypothesis_inputs} "
                f"5xx={self.hypothesis_5xx}"
            )
        if self.log_scanned:
            lines.append(
                f"security: log leak scan lines={self.log_lines} leaks={len(self.log_leaks)}"
            )
            lines += [f"  leak: {leak}" for leak in self.log_leaks[:20]]
        if self.redis_scans:
            lines.append(
                f"security: redis plaintext scan scans={self.redis_scans} "
                f"keys={self.redis_keys} leaks={len(self.redis_leaks)}"
            )
            lines += [f"  plaintext in key: {_masked(key)}" for key in self.redis_leaks[:20]]
        return lines


def _masked(text: str) -> str:
    for pattern in LEAK_PATTERNS.values():
        text = pattern.sub("[withheld]", text)
    return text


FIGURES = SecurityFigures()
