"""Structured JSON logs with request ids, and a redaction filter for tokens and secrets.

The filter is the last line of defence, not the first: code never logs tokens on purpose.
It masks anything shaped like a JWT, an Ory token or code, an ``Authorization`` value, and
every secret value registered at start-up (client secret, session secret, webhook secrets,
Redis password), in the message, its arguments and any extra fields.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "RedactionFilter",
    "TextFormatter",
    "configure_logging",
    "escape_control_characters",
    "install_redaction",
    "redact",
    "register_secrets",
    "request_id_var",
]

REDACTED = "[redacted]"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fanvue_request_id", default=None
)

_SUBSTITUTIONS: list[tuple[re.Pattern[str], str]] = [
    # JWTs (Fanvue access/id/session tokens) and our app sessions
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.?[A-Za-z0-9_-]*"), REDACTED),
    # Hydra refresh tokens, codes and opaque access tokens
    (re.compile(r"ory_(?:rt|ac|at)_[A-Za-z0-9_.~-]+"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (
        re.compile(
            r"(?i)\b((?:access|refresh|id)_token|client_secret|code_verifier|token)=[^&\s]+"
        ),
        r"\1=" + REDACTED,
    ),
]
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)
# Extra fields a JSON line leaves out: uvicorn's copy of its message with ANSI colour codes.
_DROPPED_EXTRAS = frozenset({"color_message"})

LIBRARY_LOGGERS = (
    "fanvue_embedded",
    "fanvue_embedded.app",
    "fanvue_embedded.app.webhooks",
    "fanvue_embedded.attempts",
    "fanvue_embedded.cli",
    "fanvue_embedded.client",
    "fanvue_embedded.exchange",
    "fanvue_embedded.metrics",
    "fanvue_embedded.redis",
    "fanvue_embedded.tokens",
    "fanvue_embedded.webhooks",
    "fanvue_embedded.worker",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "httpx",
)
"""Every logger the service writes through (a filter on a logger sees only the records logged
on that very logger, not its children's: each is named)."""
# Process-global on purpose, unlike every other piece of state (metrics, stores and locks
# belong to one ``Services``): Python's logging handlers are process-global, and a log line
# cannot be traced back to the app that wrote it, so every filter masks the union of the
# secrets of every app in the process. The set only grows: masking another app's secret too
# is harmless, while forgetting one when a second app starts would leak it.
_PROCESS_SECRETS: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Add exact values (≥ 8 characters) the filter must always mask, process-wide."""
    for value in values:
        if value and len(value) >= 8:
            _PROCESS_SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret and every token-shaped string masked."""
    for secret in sorted(_PROCESS_SECRETS, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern, replacement in _SUBSTITUTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redacted_arguments(record: logging.LogRecord) -> tuple[object, ...] | None:
    """``record.args`` with each string masked, when that alone cleans the message (formatters
    such as uvicorn's access formatter read the arguments); ``None`` when it does not."""
    args = record.args
    if not isinstance(args, tuple) or not isinstance(record.msg, str):
        return None
    if redact(record.msg) != record.msg:
        return None
    masked = tuple(redact(arg) if isinstance(arg, str) else arg for arg in args)
    try:
        message = record.msg % masked
    except (TypeError, ValueError):
        return None
    return masked if redact(message) == message else None


class RedactionFilter(logging.Filter):
    """Rewrites each record in place so that no handler can see a token.

    A record with nothing to mask is left as it is. Otherwise the masked arguments replace the
    originals when that is enough, else the record becomes its masked message without arguments.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
            record.args = None
        masked = redact(message)
        if masked != message:
            arguments = _redacted_arguments(record)
            if arguments is not None:
                record.args = arguments
            else:
                record.msg = masked
                record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, key, redact(value))
        return True


# C0 controls (CR, LF, ESC, ...), DEL, C1 controls, and the Unicode line/paragraph separators
# some viewers break lines on.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


_JSON_UNESCAPED = re.compile("[\x7f-\x9f\u2028\u2029]")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
    return named or (f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}")


def escape_control_characters(text: str) -> str:
    """``text`` with every control character written as an escape (``\\n``, ``\\x1b``...):
    a logged value can then neither start a forged log line nor drive the terminal."""
    return _CONTROL.sub(_escape_one, text)


class TextFormatter(logging.Formatter):
    """``LEVEL logger: message`` on one line, whatever the message holds.

    Request values end up in messages (a callback's ``?error=``, a path), so every control
    character in the line is escaped (log forging, ANSI escapes). A traceback or stack keeps
    its lines, each indented by four spaces and escaped too, so a line that starts at column
    0 is always a real record."""

    def __init__(self, fmt: str = "%(levelname)s %(name)s: %(message)s") -> None:
        super().__init__(fmt)

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = escape_control_characters(self.formatMessage(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        blocks = [record.exc_text] if record.exc_text else []
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        for block in blocks:
            for line in block.splitlines():
                text += "\n    " + escape_control_characters(line)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in _DROPPED_EXTRAS and key[0] != "_":
                entry[key] = value if isinstance(value, int | float | bool) else str(value)
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        # json.dumps escapes C0 controls; C1 controls (0x9b is an ANSI CSI) and U+2028/9 too.
        text = json.dumps(entry, ensure_ascii=False)
        return redact(_JSON_UNESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def install_redaction(
    secrets: Iterable[str | None] = (), loggers: Iterable[str] = LIBRARY_LOGGERS
) -> None:
    """Mask tokens and ``secrets`` in every record of ``loggers``, whoever handles them.

    What ``create_app`` does: one ``RedactionFilter`` per named logger (idempotent), and
    nothing else: no handler, no level, the root logger untouched. Your logging configuration
    (uvicorn's default one, say) keeps formatting and routing the records.
    """
    register_secrets(secrets)
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactionFilter) for existing in logger.filters):
            logger.addFilter(RedactionFilter())


def configure_logging(
    level: int | str = logging.INFO, *, json_format: bool = True, secrets: Iterable[str | None] = ()
) -> None:
    """The service's own logging: one redacting handler on the root logger, writing JSON lines
    (or ``LEVEL logger: message``) to stderr, at ``level``; uvicorn's loggers routed through it.

    For applications that want the project's format; a library user need not call it
    (``create_app`` installs the redaction either way). Idempotent."""
    register_secrets(secrets)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_fanvue", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._fanvue = True  # type: ignore[attr-defined]
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
