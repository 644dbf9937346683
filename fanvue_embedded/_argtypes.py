"""Argument types for the command lines (``cli`` and the emulator's runner): a bad value is
an argparse usage error that names the flag and the value, never a traceback from deep inside
the server."""

from __future__ import annotations

import argparse

__all__ = [
    "non_negative_int",
    "non_negative_number",
    "port_number",
    "positive_int",
    "positive_number",
]


def port_number(text: str) -> int:
    """A TCP port, 1-65535."""
    value = _integer(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1 (worker counts, lifetimes in seconds)."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def non_negative_int(text: str) -> int:
    """A whole number, 0 or more (retry counts)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def non_negative_number(text: str) -> float:
    """Seconds that may be 0 or more (a grace period)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0 or value == float("inf"):  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number, 0 or more")
    return value


def positive_number(text: str) -> float:
    """Seconds greater than 0 (an interval)."""
    value = non_negative_number(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
