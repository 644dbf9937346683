"""Log forging: a request value with CR, LF or an ANSI escape never starts a line of its own.

The text log format writes messages as they are; the formatter escapes every control character
(JSON escapes them by construction), and traceback lines are indented, so a line that starts at
column 0 is always a real record.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path

import httpx
import pytest

from fanvue_embedded.cli import dev_environment
from fanvue_embedded.logs import JsonFormatter, RedactionFilter, TextFormatter
from tests.support.servers import free_port, spawn

FORGED = "\r\nERROR fanvue_embedded.app: admin login from 10.0.0.1\x1b[2K\x1b[1A\x9b31m"


def formatted(formatter: logging.Formatter, message: str, *args: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(formatter)
    logger = logging.getLogger("test.forging")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning(message, *args)
        try:
            raise ValueError(f"bad value {FORGED}")
        except ValueError:
            logger.exception("failed on %s", FORGED)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_text_formatter_keeps_each_record_on_its_own_lines() -> None:
    out = formatted(TextFormatter(), "callback error=%s", FORGED)
    lines = out.splitlines()
    records = [line for line in lines if not line.startswith("    ")]
    assert records == [
        "WARNING test.forging: callback error=\\r\\nERROR fanvue_embedded.app: admin login "
        "from 10.0.0.1\\x1b[2K\\x1b[1A\\x9b31m",
        "ERROR test.forging: failed on \\r\\nERROR fanvue_embedded.app: admin login from "
        "10.0.0.1\\x1b[2K\\x1b[1A\\x9b31m",
    ]
    assert "\x1b" not in out
    assert "\x9b" not in out
    assert "\r" not in out
    # The traceback keeps its lines, indented; the forged text inside it is escaped too.
    traceback = [line for line in lines if line.startswith("    ")]
    assert traceback[0] == "    Traceback (most recent call last):"
    assert "    ValueError: bad value " in traceback
    # A line break inside the exception text only starts another indented line.
    assert "    ERROR fanvue_embedded.app: admin login from 10.0.0.1\\x1b[2K\\x1b[1A\\x9b31m" in (
        traceback
    )


def test_json_formatter_stays_one_valid_object_per_line() -> None:
    out = formatted(JsonFormatter(), "callback error=%s", FORGED)
    lines = out.splitlines()
    assert len(lines) == 2
    entries = [json.loads(line) for line in lines]
    assert entries[0]["message"] == f"callback error={FORGED}"
    assert "\x1b" not in out
    assert "\x9b" not in out


def test_a_forged_callback_error_writes_one_line_in_the_text_log(tmp_path: Path) -> None:
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"
    env = dev_environment(app_url=app_url, platform_url="http://127.0.0.1:9")
    env.update(LOG_FORMAT="text", PATH="/usr/bin:/bin")
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "fanvue_embedded.cli", "serve", "--host", "127.0.0.1"]
    with spawn([*command, "--port", str(port)], host="127.0.0.1", port=port, env=env, log_path=log):
        query = "state=s&error=denied%0D%0AERROR%20fanvue_embedded.app%3A%20forged%1B%5B2K"
        response = httpx.get(f"{app_url}/oauth/callback?{query}", timeout=10)
        assert response.status_code == 400
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "standard flow ended with error=denied\\r\\nERROR fanvue_embedded.app: forged" in text
    assert not any(
        line.startswith("ERROR fanvue_embedded.app: forged") for line in text.split("\n")
    )
    assert "\x1b" not in text
    assert "\r" not in text


@pytest.mark.parametrize("value", ["a\nb", "a\rb", "a\x1b[31mb", "a\x00b", "a\u2028b"])
def test_every_control_character_is_escaped(value: str) -> None:
    out = formatted(TextFormatter(), "%s", value).splitlines()[0]
    assert out.startswith("WARNING test.forging: a\\")
    assert out.endswith("b")
