"""Serve an emulator with uvicorn, and the command line it shares with the project CLI."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from fanvue_embedded._argtypes import non_negative_number, port_number, positive_int
from fanvue_embedded._devdefaults import DEV_CLIENT_SECRET

from .app import Emulator
from .config import BASE_SCOPES, ROTATION_MODES, EmulatorConfig

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def build_arg_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The emulator's flags; the project CLI passes its own sub-parser to reuse them."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m fanvue_embedded.emulator", description="Run a local Fanvue emulator."
    )
    defaults = EmulatorConfig()
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT)
    parser.add_argument("--client-id", default=defaults.client_id)
    parser.add_argument("--client-secret", default=None, help="default: the public dev secret")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        default=None,
        help="registered redirect URI (repeatable)",
    )
    parser.add_argument(
        "--scopes",
        default=None,
        help="registered scopes, space- or comma-separated (openid offline_access offline added)",
    )
    parser.add_argument("--grace-seconds", type=non_negative_number, default=defaults.grace_seconds)
    parser.add_argument("--rotation-mode", choices=ROTATION_MODES, default=defaults.rotation_mode)
    parser.add_argument("--access-token-ttl", type=positive_int, default=defaults.access_token_ttl)
    parser.add_argument(
        "--session-token-ttl", type=positive_int, default=defaults.session_token_ttl
    )
    parser.add_argument("--app-url", default=None, help="the app's embed URL")
    parser.add_argument("--issuer", default=None, help="public base URL (default: from requests)")
    parser.add_argument("--seed", type=int, default=None, help="seed for random fault injection")
    parser.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        default=None,
        help="a Host name the emulator answers besides loopback and --issuer's (repeatable)",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        dest="allowed_origins",
        default=None,
        help="a page origin allowed to change state through /_emulator/ (repeatable)",
    )
    return parser


def config_from_args(ns: argparse.Namespace) -> EmulatorConfig:
    defaults = EmulatorConfig()
    scopes = defaults.scopes
    if ns.scopes is not None:
        scopes = tuple(dict.fromkeys((*BASE_SCOPES, *ns.scopes.replace(",", " ").split())))
    return EmulatorConfig(
        client_id=ns.client_id,
        client_secret=ns.client_secret or DEV_CLIENT_SECRET,
        redirect_uris=tuple(ns.redirect_uris or defaults.redirect_uris),
        scopes=scopes,
        grace_seconds=ns.grace_seconds,
        rotation_mode=ns.rotation_mode,
        access_token_ttl=ns.access_token_ttl,
        session_token_ttl=ns.session_token_ttl,
        app_url=ns.app_url,
        issuer=ns.issuer,
        seed=ns.seed,
        allowed_hosts=_allowed_hosts(ns),
        allowed_origins=tuple(ns.allowed_origins or ()),
    )


WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared, not bound


def _allowed_hosts(ns: argparse.Namespace) -> tuple[str, ...]:
    """``--allowed-host`` values, plus the address given to ``--host`` when it names one
    (reaching the emulator there must work; a wildcard names no host)."""
    hosts = list(ns.allowed_hosts or ())
    bound = getattr(ns, "host", "")
    if bound not in WILDCARD_HOSTS:
        hosts.append(f"[{bound}]" if ":" in bound else bound)
    return tuple(dict.fromkeys(hosts))


def describe(config: EmulatorConfig, base_url: str) -> str:
    """The start-up banner; the secret appears only when it is the public dev default."""
    secret = config.client_secret if config.client_secret == DEV_CLIENT_SECRET else "(as given)"
    lines = [
        f"Fanvue emulator on {base_url}",
        f"  client id:     {config.client_id}",
        f"  client secret: {secret}",
        f"  redirect URIs: {', '.join(config.redirect_uris)}",
        f"  scopes:        {' '.join(config.scopes)}",
        f"  app URL:       {config.app_url or '(none)'}",
        f"  control API:   {base_url}/_emulator/ (JSON only; pages on other origins and",
        "                 unknown Host names are refused: --allowed-host, --allowed-origin)",
    ]
    return "\n".join(lines)


def run_emulator(
    config: EmulatorConfig | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    log_level: str = "info",
) -> None:
    """Serve an emulator until interrupted (blocking)."""
    config = config or EmulatorConfig()
    print(describe(config, f"http://{host}:{port}"), flush=True)
    uvicorn.run(Emulator(config).app, host=host, port=port, log_level=log_level)


def main(argv: Sequence[str] | None = None) -> None:
    ns = build_arg_parser().parse_args(argv)
    run_emulator(config_from_args(ns), host=ns.host, port=ns.port)
