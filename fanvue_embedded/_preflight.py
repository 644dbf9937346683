"""Checks the CLI runs before starting something, so a failure is one line instead of a traceback.

A busy port, an address that cannot be bound, a URL that is not one: each becomes a
``ConfigurationError`` naming the flag; ``redis_location`` names a Redis server without its
password for the "Redis is down" line.
"""

from __future__ import annotations

import argparse
import errno
import socket
from urllib.parse import urlsplit

from .errors import ConfigurationError

__all__ = ["ensure_port_free", "http_url", "redis_location"]


def ensure_port_free(host: str, port: int, *, flag: str = "--port") -> None:
    """Raise unless a server could listen on ``host:port`` now (checked by binding it briefly,
    with the ``SO_REUSEADDR`` uvicorn uses, so a port in TIME_WAIT counts as free)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigurationError(f"--host {host!r} cannot be resolved ({exc.strerror}).") from exc
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigurationError(
                    f"{flag} {port}: the port is already in use on {host}; stop what listens "
                    f"there or pick another with {flag}."
                ) from exc
            reason = exc.strerror or type(exc).__name__
            raise ConfigurationError(f"cannot listen on {host}:{port} ({reason}).") from exc


def http_url(value: str) -> str:
    """argparse type: an absolute http(s) URL (the message names the value, not a traceback)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r} is not an absolute http(s) URL")
    return value


def redis_location(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, never its user or password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the configured REDIS_URL"
    if parts.scheme.lower() == "unix":
        return parts.path or "a unix socket"
    hosts = parts.netloc.rpartition("@")[2]
    return hosts or "the configured REDIS_URL"
