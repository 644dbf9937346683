"""``fanvue-embedded``: the command line.

emulator   run the local Fanvue emulator
dev        the emulator and the app together on embedded defaults; prints the URL to open
serve      the app for real (uvicorn), configured from the environment
worker     the keepalive worker: refreshes stored chains before they go stale
keys       generate an encryption key for TOKEN_ENCRYPTION_KEYS; rotate (re-encrypt all)
tokens     list / revoke stored token sets (never prints a token)
check      the doctor: configuration, Redis persistence, Fanvue endpoints, scopes
webhooks   send a documented sample (signed); list / retry stored deliveries

Environment is read here and in ``app``'s entry points only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from ._argtypes import (
    non_negative_int,
    non_negative_number,
    port_number,
    positive_int,
    positive_number,
)
from ._devdefaults import DEV_WEBHOOK_SECRET
from ._preflight import ensure_port_free, http_url, redis_location
from ._upload_cli import add_media_parser, upload_command
from ._version import __version__
from .devserver import DEV_IGNORED_VARIABLES, dev_environment, run_dev
from .errors import ConfigurationError, StoreUnavailable
from .logs import configure_logging

if TYPE_CHECKING:
    from .config import Settings
    from .services import Services
    from .webhooks import WebhookRegistry

__all__ = ["DEV_IGNORED_VARIABLES", "build_parser", "dev_environment", "main"]

logger = logging.getLogger("fanvue_embedded.cli")


def _run_emulator(args: argparse.Namespace) -> None:
    from .emulator.runner import config_from_args, run_emulator

    ensure_port_free(args.host, args.port)
    run_emulator(config_from_args(args), host=args.host, port=args.port)


def _check_tls_files(certfile: str | None, keyfile: str | None) -> None:
    """Load the certificate and key once up front: a missing, unreadable or mismatched file is
    a configuration error naming the flag, not a traceback from inside uvicorn."""
    if certfile is None and keyfile is None:
        return
    if certfile is None or keyfile is None:
        raise ConfigurationError("--ssl-certfile and --ssl-keyfile go together: give both.")
    import ssl

    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        raise ConfigurationError(
            f"--ssl-certfile {certfile!r} / --ssl-keyfile {keyfile!r}: not a PEM certificate "
            "chain with its matching private key."
        ) from exc
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigurationError(
            f"--ssl-certfile {certfile!r} / --ssl-keyfile {keyfile!r} cannot be used: {reason}."
        ) from exc


def _run_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from .app import app_from_env
    from .metrics import multiprocess_mode

    app_from_env()  # validate configuration before forking workers; fails with a clear message
    _check_tls_files(args.ssl_certfile, args.ssl_keyfile)
    ensure_port_free(args.host, args.port)
    # Several workers sum their metrics through files in one directory (metrics.py).
    with multiprocess_mode(args.workers):
        uvicorn.run(
            "fanvue_embedded.app:app_from_env",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=args.proxy_headers,
            forwarded_allow_ips=args.forwarded_allow_ips,
            ssl_certfile=args.ssl_certfile,
            ssl_keyfile=args.ssl_keyfile,
            log_level=args.log_level,
            log_config=None,  # our redacting handler (installed by app_from_env) does the logging
            server_header=False,
        )


def _run_keys(args: argparse.Namespace) -> int:
    from .crypto import generate_key

    if args.keys_command == "generate":
        print(generate_key(args.key_id))
        return 0
    return asyncio.run(_keys_rotate())


def _settings() -> Settings:
    """Settings from the environment over the working directory's ``.env`` (the env wins)."""
    from .config import Settings
    from .envfile import environment_with_env_file

    return Settings.from_env(environment_with_env_file())


async def _with_services(work: Callable[[Services], Awaitable[int]]) -> int:
    """Run ``work``; Redis being down is one line naming the server (never its password)."""
    from .services import build_services

    settings = _settings()
    services = build_services(settings)
    try:
        return await work(services)
    except StoreUnavailable as exc:
        where = redis_location(settings.redis_url.get_secret_value()) if settings.redis_url else ""
        print(
            f"fanvue-embedded: {exc} at {where}; is it running, and is REDIS_URL right?",
            file=sys.stderr,
        )
        return 1
    finally:
        await services.aclose()


async def _run_worker(args: argparse.Namespace) -> int:
    from .worker import run_worker

    async def reachable(services: Services) -> int:
        # Once running, the worker rides out Redis outages; at start a wrong URL should show.
        if not await services.store.ping():
            raise StoreUnavailable("Redis is unavailable (no answer to PING)")
        return 0

    if await _with_services(reachable) != 0:
        return 1
    registry = _load_registry(args.webhooks) if args.webhooks else None
    await run_worker(_settings(), webhooks=registry, webhook_interval=args.webhook_interval)
    return 0


async def _keys_rotate() -> int:
    from .ops import reencrypt_all

    async def work(services: Services) -> int:
        def progress(seen: int, rewritten: int) -> None:
            print(f"  {seen} creators checked, {rewritten} re-encrypted", flush=True)

        seen, rewritten = await reencrypt_all(services.store, progress=progress)
        print(f"done: {rewritten} of {seen} token sets now under the newest key")
        return 0

    return await _with_services(work)


async def _run_tokens(args: argparse.Namespace) -> int:
    from .ops import list_tokens

    async def work(services: Services) -> int:
        if args.tokens_command == "list":
            for row in await list_tokens(services.store):
                print(json.dumps(row))
            return 0
        removed = await services.store.delete(args.creator)
        print(f"{args.creator}: {'revoked' if removed else 'nothing stored'}")
        return 0 if removed else 1

    return await _with_services(work)


async def _run_check() -> int:
    from .ops import run_checks

    try:
        settings = _settings()
    except ConfigurationError as exc:
        print(f"FAIL configuration: {exc}")
        return 1
    checks = await run_checks(settings)
    for check in checks:
        print(check.line())
    failed = [check for check in checks if check.verdict == "fail"]
    print("verdict:", "FAIL" if failed else "OK")
    return 1 if failed else 0


def _load_registry(target: str) -> WebhookRegistry:
    """The ``WebhookRegistry`` named ``module:attribute`` (``worker --webhooks``)."""
    import importlib

    from .webhooks import WebhookRegistry

    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise ConfigurationError(f"--webhooks {target!r} must look like module:attribute")
    try:
        registry = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            f"--webhooks {target!r} cannot be loaded ({type(exc).__name__})"
        ) from exc
    if not isinstance(registry, WebhookRegistry):
        raise ConfigurationError(f"--webhooks {target!r} is not a WebhookRegistry")
    return registry


async def _run_webhooks(args: argparse.Namespace) -> int:
    from .webhooks.cli import cli_list, cli_retry, cli_send

    if args.webhooks_command == "send":
        return await cli_send(
            args.url, args.event_type, args.secret, retries=args.retries, backoff=args.backoff
        )

    async def work(services: Services) -> int:
        inbox = services.webhooks.inbox()
        if args.webhooks_command == "list":
            return await cli_list(inbox, args.state, args.limit)
        return await cli_retry(inbox, args.deliveries, every=args.every)

    return await _with_services(work)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fanvue-embedded", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    from .emulator.runner import build_arg_parser as emulator_arguments

    emulator_arguments(commands.add_parser("emulator", help="run the local Fanvue emulator"))

    dev = commands.add_parser("dev", help="run the emulator and the app together")
    dev.add_argument(
        "--host",
        default="127.0.0.1",
        help="address both servers bind (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    dev.add_argument("--port", type=port_number, default=8000, help="app port")
    dev.add_argument(
        "--emulator-port", type=port_number, default=9000, help="emulator port (localhost)"
    )
    dev.add_argument(
        "--redis-url",
        help="use this Redis (default: the in-memory store; $REDIS_URL is ignored on purpose)",
    )
    dev.add_argument(
        "--token-encryption-keys",
        help="encryption keys for --redis-url (default: the public dev key; "
        "$TOKEN_ENCRYPTION_KEYS is ignored on purpose)",
    )

    serve = commands.add_parser("serve", help="serve the app (configuration from the environment)")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server binds all interfaces
    serve.add_argument("--port", type=port_number, default=8000)
    serve.add_argument("--workers", type=positive_int, default=1)
    serve.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-* headers")
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    serve.add_argument("--ssl-certfile")
    serve.add_argument("--ssl-keyfile")
    serve.add_argument(
        "--log-level", default="info", choices=("critical", "error", "warning", "info", "debug")
    )

    keys = commands.add_parser("keys", help="encryption keys for TOKEN_ENCRYPTION_KEYS")
    key_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="action")
    generate = key_commands.add_parser("generate", help="print a new '<id>:<key>' entry")
    generate.add_argument("--key-id", default="k1")
    key_commands.add_parser(
        "rotate", help="re-encrypt every stored token set under the newest key (resumable)"
    )

    tokens = commands.add_parser("tokens", help="stored token sets (never prints a token)")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True, metavar="action")
    token_commands.add_parser("list", help="one JSON line per stored creator")
    revoke = token_commands.add_parser("revoke", help="delete a creator's stored tokens")
    revoke.add_argument("creator", help="the creator's uuid")

    commands.add_parser("check", help="doctor: configuration, Redis, Fanvue endpoints, scopes")
    worker = commands.add_parser(
        "worker", help="keepalive worker (+ webhook retries with --webhooks module:registry)"
    )
    worker.add_argument(
        "--webhooks",
        metavar="MODULE:NAME",
        help="your WebhookRegistry (e.g. myapp.hooks:webhooks): retry failed deliveries too",
    )
    worker.add_argument(
        "--webhook-interval",
        type=positive_number,
        default=5.0,
        help="seconds between webhook retry sweeps",
    )

    webhooks = commands.add_parser(
        "webhooks", help="send a signed sample; list / retry stored deliveries"
    )
    webhook_commands = webhooks.add_subparsers(
        dest="webhooks_command", required=True, metavar="action"
    )
    send = webhook_commands.add_parser(
        "send", help="sign and POST the documented sample of --type to --url"
    )
    send.add_argument(
        "--url", required=True, type=http_url, help="e.g. http://127.0.0.1:8000/webhooks/fanvue"
    )
    send.add_argument(
        "--type", required=True, dest="event_type", help="e.g. tip.new, message.received"
    )
    send.add_argument(
        "--secret",
        default=os.environ.get("FANVUE_WEBHOOK_SECRET", DEV_WEBHOOK_SECRET),
        help="signing secret (default: $FANVUE_WEBHOOK_SECRET, else the dev secret)",
    )
    send.add_argument("--retries", type=non_negative_int, default=0, help="retries on non-2xx")
    send.add_argument(
        "--backoff", type=non_negative_number, default=1.0, help="first retry delay (doubles)"
    )
    listing = webhook_commands.add_parser(
        "list", help="stored deliveries, one JSON line each (never the payload)"
    )
    listing.add_argument("--state", choices=("failed", "pending"), default="failed")
    listing.add_argument("--limit", type=positive_int, default=100)
    retry = webhook_commands.add_parser(
        "retry", help="make failed deliveries due again (the worker runs them)"
    )
    retry.add_argument("deliveries", nargs="*", help="delivery ids from `webhooks list`")
    retry.add_argument("--all", action="store_true", dest="every", help="every failed one")
    add_media_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # One-shot commands print a report: httpx's per-request INFO lines would only clutter it.
    quiet = args.command in ("check", "tokens", "keys", "webhooks", "media")
    configure_logging(
        logging.WARNING if quiet else logging.INFO,
        json_format=args.command in ("serve", "worker"),
    )
    try:
        if args.command == "emulator":
            _run_emulator(args)
        elif args.command == "dev":
            asyncio.run(run_dev(args))
        elif args.command == "serve":
            _run_serve(args)
        elif args.command == "keys":
            return _run_keys(args)
        elif args.command == "tokens":
            return asyncio.run(_run_tokens(args))
        elif args.command == "check":
            return asyncio.run(_run_check())
        elif args.command == "worker":
            return asyncio.run(_run_worker(args))
        elif args.command == "webhooks":
            return asyncio.run(_run_webhooks(args))
        elif args.command == "media":
            return asyncio.run(_with_services(lambda services: upload_command(services, args)))
    except ConfigurationError as exc:
        print(f"fanvue-embedded: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
