"""``fanvue-embedded dev``: the emulator and the app together, on embedded defaults.

``dev`` registers the app in the emulator and never touches production state: it ignores
``REDIS_URL`` and ``TOKEN_ENCRYPTION_KEYS`` from the environment unless they are passed on its
command line.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping

from ._devdefaults import (
    DEV_CLIENT_ID,
    DEV_CLIENT_SECRET,
    DEV_ENCRYPTION_KEY,
    DEV_SCOPES,
    DEV_SESSION_SECRET,
    DEV_WEBHOOK_SECRET,
)
from ._preflight import ensure_port_free
from ._version import __version__
from .errors import ConfigurationError

__all__ = ["DEV_IGNORED_VARIABLES", "dev_environment", "dev_urls", "run_dev"]


# Production state ``dev`` must never pick up from the environment it happens to run in.
DEV_IGNORED_VARIABLES = ("REDIS_URL", "TOKEN_ENCRYPTION_KEYS")


def dev_environment(
    *,
    app_url: str,
    platform_url: str,
    redis_url: str | None = None,
    encryption_keys: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The variables ``dev`` runs the app with: the emulator's registered dev app.

    The token store is the in-process memory store unless ``redis_url`` is given, with the
    dev encryption key unless ``encryption_keys`` is. ``REDIS_URL`` and
    ``TOKEN_ENCRYPTION_KEYS`` in ``environ`` are ignored on purpose: a shell that exports
    production values must not make ``dev`` write emulator tokens into production Redis
    under production keys. Only ``SESSION_MODE`` and ``SESSION_COOKIE_NAME`` are taken from it.
    """
    env = {
        "FANVUE_EMBEDDED_MODE": "development",
        "OAUTH_CLIENT_ID": DEV_CLIENT_ID,
        "OAUTH_CLIENT_SECRET": DEV_CLIENT_SECRET,
        "OAUTH_REDIRECT_URI": f"{app_url}/oauth/callback",
        "OAUTH_SCOPES": " ".join(DEV_SCOPES),
        "SESSION_SECRET": DEV_SESSION_SECRET,
        "FANVUE_PLATFORM_URL": platform_url,
        "OAUTH_ISSUER_BASE_URL": platform_url,
        "API_BASE_URL": platform_url,
        "PUBLIC_URL": app_url,
        "FANVUE_WEBHOOK_SECRET": DEV_WEBHOOK_SECRET,
    }
    for name in ("SESSION_MODE", "SESSION_COOKIE_NAME"):
        if environ and environ.get(name):
            env[name] = environ[name]
    if redis_url:
        env["REDIS_URL"] = redis_url
        # A fixed, public key so tokens survive a dev restart; refused in production.
        env["TOKEN_ENCRYPTION_KEYS"] = encryption_keys or DEV_ENCRYPTION_KEY
    elif encryption_keys:
        env["TOKEN_ENCRYPTION_KEYS"] = encryption_keys
    return env


def dev_urls(host: str, port: int, emulator_port: int) -> tuple[str, str]:
    """(app URL, emulator URL) for ``dev --host``.

    On loopback or all interfaces the browser reaches the app at 127.0.0.1 and the emulator at
    localhost: two sites, as the app and Fanvue are. Any other address serves both, so the two
    are then one site (see the README).
    """
    if host in LOOPBACK_OR_ANY:
        return f"http://127.0.0.1:{port}", f"http://localhost:{emulator_port}"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}", f"http://{shown}:{emulator_port}"


LOOPBACK_OR_ANY = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::", "::1"})  # noqa: S104


async def run_dev(args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app
    from .config import Settings
    from .emulator import EmulatorConfig, create_emulator_app

    if args.port == args.emulator_port:
        raise ConfigurationError("--port and --emulator-port must differ.")
    ensure_port_free(args.host, args.emulator_port, flag="--emulator-port")
    ensure_port_free(args.host, args.port, flag="--port")
    app_url, platform_url = dev_urls(args.host, args.port, args.emulator_port)
    env = dev_environment(
        app_url=app_url,
        platform_url=platform_url,
        redis_url=args.redis_url,
        encryption_keys=args.token_encryption_keys,
        environ=os.environ,
    )
    ignored = [name for name in DEV_IGNORED_VARIABLES if os.environ.get(name)]
    if ignored:
        print(
            f"dev: ignoring {' and '.join(ignored)} from the environment (dev never touches "
            "production state); pass --redis-url / --token-encryption-keys to choose them",
            flush=True,
        )
    settings = Settings.from_env(env)
    emulator_config = EmulatorConfig(
        redirect_uris=(env["OAUTH_REDIRECT_URI"],),
        app_url=f"{app_url}{settings.embed_path}",
        issuer=platform_url,
        webhook_url=f"{app_url}/webhooks/fanvue",
    )
    emulator = create_emulator_app(emulator_config)
    app = create_app(settings)
    servers = [
        uvicorn.Server(
            uvicorn.Config(
                emulator,
                host=args.host,
                port=args.emulator_port,
                log_level="warning",
                log_config=None,
            )
        ),
        uvicorn.Server(
            uvicorn.Config(app, host=args.host, port=args.port, log_level="info", log_config=None)
        ),
    ]
    store = "Redis" if settings.redis_url else "in-memory (--redis-url to use Redis)"
    print(
        f"fanvue-embedded dev {__version__}\n"
        f"  emulator (Fanvue): {platform_url}   app: {app_url}{settings.embed_path}\n"
        f"  registered app: client id {DEV_CLIENT_ID}, secret {DEV_CLIENT_SECRET!r} (dev only)\n"
        f"  token store: {store}\n\n"
        f"  Open {platform_url}/ in your browser.\n",
        flush=True,
    )
    await asyncio.gather(*(server.serve() for server in servers))
