"""Log redaction and JSON formatting: no token or secret survives into a log line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from fanvue_embedded.logs import (
    REDACTED,
    JsonFormatter,
    RedactionFilter,
    redact,
    register_secrets,
    request_id_var,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        (f"GET /embedded?token={JWT}&theme=dark", JWT),
        ("refresh with ory_rt_AbC-123_xyz failed", "ory_rt_AbC-123_xyz"),
        ("code ory_ac_ZZZ9 exchanged", "ory_ac_ZZZ9"),
        ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
        ("Authorization: Basic ZmFudnVlOnNlY3JldA==", "ZmFudnVlOnNlY3JldA=="),
        ("grant_type=refresh_token&refresh_token=opaque-value-1", "opaque-value-1"),
        ("client_secret=s3cr3t-value&x=1", "s3cr3t-value"),
    ],
)
def test_redact_masks_token_shapes(text: str, leak: str) -> None:
    cleaned = redact(text)
    assert leak not in cleaned
    assert REDACTED in cleaned


def test_registered_secret_values_are_masked_anywhere() -> None:
    register_secrets(["my-very-own-client-secret", None, "short"])
    assert "my-very-own-client-secret" not in redact("oops my-very-own-client-secret!")
    assert redact("short stays") == "short stays"  # too short to register safely


def test_filter_and_json_formatter_cover_args_extras_and_exceptions() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactionFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id_var.set("req-42")
    try:
        logger.warning("refresh %s", "ory_rt_secret1", extra={"detail": f"Bearer {JWT}"})
        try:
            raise ValueError(f"bad token {JWT}")
        except ValueError:
            logger.exception("failed")
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["request_id"] == "req-42"
    assert lines[0]["level"] == "warning"
    output = stream.getvalue()
    for leak in ("ory_rt_secret1", JWT):
        assert leak not in output
    assert "ValueError" in lines[1]["exception"]
