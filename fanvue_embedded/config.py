"""Settings: the port of the JS SDK's ``createConfig()``.

``Settings.from_env(environ)`` reads the variables of DESIGN §5 from a mapping. It is
called only at entry points (the app factory's caller, the CLI); every other module takes
explicit arguments. Validation happens when a ``Settings`` is built, so a bad value fails at
start-up with a message naming the variable, never later in a request.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlsplit

from ._devdefaults import DEV_ENCRYPTION_KEY
from ._secret_rules import check_secret, looks_like_placeholder
from .errors import ConfigurationError
from .values import (
    DEFAULT_API_VERSION,
    KNOWN_SCOPES,
    REQUIRED_SCOPES,
    EncryptionKey,
    Secret,
)

__all__ = [
    "DEFAULT_API_VERSION",
    "ENVIRONMENTS",
    "KNOWN_SCOPES",
    "REQUIRED_SCOPES",
    "EncryptionKey",
    "Secret",
    "Settings",
]

ENVIRONMENTS: Mapping[str, Mapping[str, str]] = {
    "production": {
        "platform_url": "https://www.fanvue.com",
        "issuer_base_url": "https://auth.fanvue.com",
        "api_base_url": "https://api.fanvue.com",
    },
    "dev": {
        "platform_url": "https://dev.fanvue.com",
        "issuer_base_url": "https://auth.dev.fanvue.com",
        "api_base_url": "https://api.dev.fanvue.com",
    },
}

_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_AES_KEY_BYTES = 32
# RFC 6265 cookie-name token characters.
_COOKIE_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
# Cookie mode's default name: "__Host-" makes browsers insist on Secure, Path=/ and no Domain,
# so a sibling subdomain can neither read nor plant it.
DEFAULT_SESSION_COOKIE_NAME = "__Host-fanvue_session"
# The starter's callback path in its newest form; ours is the same route (app/oauth_routes).
CALLBACK_PATH = "/oauth/callback"


def _check_url(variable: str, value: str, *, allow_http: bool) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:
        raise ConfigurationError(
            f"{variable} is not a valid URL ({exc}): {value!r}.", variable=variable
        ) from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(
            f"{variable} must be an absolute URL, got {value!r}.", variable=variable
        )
    if parts.scheme == "http" and not allow_http:
        raise ConfigurationError(
            f"{variable} must use https outside development mode, got {value!r}.", variable=variable
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"{variable} must not carry a query or fragment.", variable=variable
        )
    return value.rstrip("/") if variable != "OAUTH_REDIRECT_URI" else value


def parse_encryption_keys(
    value: str, *, variable: str = "TOKEN_ENCRYPTION_KEYS"
) -> tuple[EncryptionKey, ...]:
    """Parse ``"kid1:<base64url 32 bytes>,kid2:<...>"`` (oldest first, newest last: the last encrypts, every key decrypts)."""
    keys: list[EncryptionKey] = []
    for position, item in enumerate(part.strip() for part in value.split(",")):
        if not item:
            continue
        key_id, sep, encoded = item.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ConfigurationError(
                f"{variable} entry {position + 1} must look like '<key id>:<base64 key>' with a key id "
                "of letters, digits, '-' or '_'.",
                variable=variable,
            )
        if looks_like_placeholder(encoded):
            raise ConfigurationError(
                f"{variable} key {key_id!r} looks like a placeholder; generate one with "
                "'fanvue-embedded keys generate'.",
                variable=variable,
            )
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(
                f"{variable} key {key_id!r} is not valid base64.", variable=variable
            ) from exc
        if len(raw) != _AES_KEY_BYTES:
            raise ConfigurationError(
                f"{variable} key {key_id!r} must decode to {_AES_KEY_BYTES} bytes, got {len(raw)}.",
                variable=variable,
            )
        if any(existing.key_id == key_id for existing in keys):
            raise ConfigurationError(
                f"{variable} names key id {key_id!r} twice.", variable=variable
            )
        keys.append(EncryptionKey(key_id, raw))
    return tuple(keys)


def _check_origin(origin: str, *, allow_http: bool) -> None:
    """One exact ``scheme://host[:port]`` of ``CORS_ALLOWED_ORIGINS``: never ``*`` (the API
    answers with credentials), no path, https outside development mode."""
    variable = "CORS_ALLOWED_ORIGINS"
    parts = urlsplit(origin)
    if origin == "*" or "*" in origin:
        raise ConfigurationError(
            f"{variable} takes exact origins; '*' would let any site use the API with the "
            "creator's session.",
            variable=variable,
        )
    if (
        parts.scheme not in ("https", "http")
        or not parts.netloc
        or origin != f"{parts.scheme}://{parts.netloc}"
    ):
        raise ConfigurationError(
            f"{variable} entries must be origins like 'https://app.example.com' (scheme, host, "
            f"optional port; no path or trailing slash), got {origin!r}.",
            variable=variable,
        )
    if parts.scheme == "http" and not allow_http:
        raise ConfigurationError(
            f"{variable} origins must use https outside development mode, got {origin!r}.",
            variable=variable,
        )


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item for item in re.split(r"[\s,]+", value.strip()) if item)


def _parse_float(variable: str, value: str, *, minimum: float) -> float:
    try:
        number = float(value)
    except ValueError as exc:
        raise ConfigurationError(
            f"{variable} must be a number, got {value!r}.", variable=variable
        ) from exc
    if not math.isfinite(number):
        raise ConfigurationError(
            f"{variable} must be a finite number, got {value!r}.", variable=variable
        )
    if number < minimum:
        raise ConfigurationError(
            f"{variable} must be at least {minimum}, got {value!r}.", variable=variable
        )
    return number


def _parse_count(variable: str, value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ConfigurationError(
            f"{variable} must be a whole number of at least 1, got {value!r}.", variable=variable
        )
    return int(value)


def _parse_limit(variable: str, value: str) -> int:
    if not value.isdigit():
        raise ConfigurationError(
            f"{variable} must be a whole number (0 = off), got {value!r}.", variable=variable
        )
    return int(value)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the service and the library need, validated.

    Build it with ``Settings.from_env(os.environ)`` at an entry point, or directly with
    keyword arguments in a library. ``repr()`` never shows a secret.
    """

    client_id: str
    client_secret: Secret
    redirect_uri: str
    session_secret: Secret
    scopes: tuple[str, ...] = ("read:self",)
    fanvue_env: Literal["production", "dev"] = "production"
    platform_url: str = ""
    issuer_base_url: str = ""
    api_base_url: str = ""
    api_version: str = DEFAULT_API_VERSION
    mode: Literal["production", "development"] = "production"
    redis_url: Secret | None = None
    token_encryption_keys: tuple[EncryptionKey, ...] = field(default=(), repr=False)
    webhook_secrets: tuple[Secret, ...] = ()
    session_cookie_name: str | None = None
    session_ttl: float = 900.0
    session_max_age: float = 12 * 3600.0
    public_url: str | None = None
    embed_path: str = "/embedded"
    refresh_leeway: float = 60.0
    redis_max_connections: int = 64
    redis_pool_timeout: float = 5.0
    redis_socket_timeout: float = 5.0
    cors_allowed_origins: tuple[str, ...] = ()
    # Failed session exchanges allowed per client address per window (README "Security").
    exchange_failure_limit: int = 20
    exchange_failure_window: float = 300.0
    # Extra origins the page may load images (avatars) from: CSP img-src.
    image_origins: tuple[str, ...] = ()
    # The app's uuid in Fanvue (entitlements: /apps/{appUuid}/subscription/me) and how long a
    # creator's answer is reused.
    app_uuid: str | None = None
    entitlement_ttl: float = 60.0
    # The shared Fanvue rate-limit budget (README "Rate-limit budget"); 0 turns it off.
    api_rate_limit: int = 200
    api_rate_window: float = 60.0
    api_rate_max_wait: float = 5.0

    def __post_init__(self) -> None:
        production = self.mode == "production"
        if self.mode not in ("production", "development"):
            raise ConfigurationError(
                f"FANVUE_EMBEDDED_MODE must be 'production' or 'development', got {self.mode!r}.",
                variable="FANVUE_EMBEDDED_MODE",
            )
        if self.fanvue_env not in ENVIRONMENTS:
            raise ConfigurationError(
                f"FANVUE_ENV must be 'production' or 'dev', got {self.fanvue_env!r}.",
                variable="FANVUE_ENV",
            )
        if not self.client_id.strip():
            raise ConfigurationError("OAUTH_CLIENT_ID is empty.", variable="OAUTH_CLIENT_ID")
        check_secret(
            "OAUTH_CLIENT_SECRET", self.client_secret.get_secret_value(), production=production
        )
        check_secret(
            "SESSION_SECRET", self.session_secret.get_secret_value(), production=production
        )
        for secret in self.webhook_secrets:
            check_secret("FANVUE_WEBHOOK_SECRET", secret.get_secret_value(), production=production)

        # Base URLs: explicit values win over the FANVUE_ENV table.
        defaults = ENVIRONMENTS[self.fanvue_env]
        allow_http = not production
        for attribute, variable in (
            ("platform_url", "FANVUE_PLATFORM_URL"),
            ("issuer_base_url", "OAUTH_ISSUER_BASE_URL"),
            ("api_base_url", "API_BASE_URL"),
        ):
            value = getattr(self, attribute) or defaults[attribute]
            object.__setattr__(self, attribute, _check_url(variable, value, allow_http=allow_http))
        _check_url("OAUTH_REDIRECT_URI", self.redirect_uri, allow_http=allow_http)
        if self.public_url is not None:
            object.__setattr__(
                self, "public_url", _check_url("PUBLIC_URL", self.public_url, allow_http=allow_http)
            )

        for origin in self.cors_allowed_origins:
            _check_origin(origin, allow_http=allow_http)

        unknown = [s for s in self.scopes if s not in KNOWN_SCOPES and s not in REQUIRED_SCOPES]
        if unknown:
            raise ConfigurationError(
                f"OAUTH_SCOPES has unknown scope(s) {', '.join(sorted(unknown))}; "
                f"known scopes: {', '.join(sorted(KNOWN_SCOPES))}.",
                variable="OAUTH_SCOPES",
            )
        if self.session_cookie_name is not None and not _COOKIE_NAME.match(
            self.session_cookie_name
        ):
            raise ConfigurationError(
                f"SESSION_COOKIE_NAME {self.session_cookie_name!r} is not a valid cookie name "
                "(letters, digits and !#$%&'*+-.^_`|~, at most 64).",
                variable="SESSION_COOKIE_NAME",
            )
        if not self.api_version.strip():
            raise ConfigurationError("FANVUE_API_VERSION is empty.", variable="FANVUE_API_VERSION")
        if not self.embed_path.startswith("/"):
            raise ConfigurationError("EMBED_PATH must start with '/'.", variable="EMBED_PATH")
        if self.session_ttl <= 0 or self.session_max_age < self.session_ttl:
            raise ConfigurationError(
                "SESSION_TTL must be positive and SESSION_MAX_AGE at least SESSION_TTL.",
                variable="SESSION_TTL",
            )
        if self.exchange_failure_limit < 1 or self.exchange_failure_window <= 0:
            raise ConfigurationError(
                "EXCHANGE_FAILURE_LIMIT must be at least 1 and EXCHANGE_FAILURE_WINDOW positive.",
                variable="EXCHANGE_FAILURE_LIMIT",
            )
        origins = [
            _check_url("CSP_IMG_ORIGINS", origin, allow_http=allow_http)
            for origin in self.image_origins
        ]
        if any(urlsplit(origin).path or "*" in origin for origin in origins):
            raise ConfigurationError(
                "CSP_IMG_ORIGINS entries must be origins (scheme://host[:port]), no path or '*'.",
                variable="CSP_IMG_ORIGINS",
            )
        object.__setattr__(self, "image_origins", tuple(origins))
        if self.app_uuid is not None:
            try:
                object.__setattr__(self, "app_uuid", str(uuid.UUID(self.app_uuid)))
            except ValueError:
                raise ConfigurationError(
                    f"FANVUE_APP_UUID must be a UUID, got {self.app_uuid!r}.",
                    variable="FANVUE_APP_UUID",
                ) from None
        if self.entitlement_ttl < 0:
            raise ConfigurationError(
                "ENTITLEMENT_CACHE_TTL must not be negative.", variable="ENTITLEMENT_CACHE_TTL"
            )
        if self.api_rate_limit < 0 or self.api_rate_window <= 0 or self.api_rate_max_wait < 0:
            raise ConfigurationError(
                "FANVUE_RATE_LIMIT must be 0 (off) or more, FANVUE_RATE_WINDOW positive and "
                "FANVUE_RATE_MAX_WAIT not negative.",
                variable="FANVUE_RATE_LIMIT",
            )
        if self.redis_max_connections < 1 or self.redis_pool_timeout <= 0:
            raise ConfigurationError(
                "REDIS_MAX_CONNECTIONS must be at least 1 and REDIS_POOL_TIMEOUT positive.",
                variable="REDIS_MAX_CONNECTIONS",
            )
        if not self.redis_socket_timeout > 0:
            raise ConfigurationError(
                "REDIS_SOCKET_TIMEOUT must be positive.", variable="REDIS_SOCKET_TIMEOUT"
            )
        if not self.token_encryption_keys and (production or self.redis_url is not None):
            raise ConfigurationError(
                "TOKEN_ENCRYPTION_KEYS is required with Redis or in production mode; "
                "generate one with 'fanvue-embedded keys generate'.",
                variable="TOKEN_ENCRYPTION_KEYS",
            )

        dev_key_id = DEV_ENCRYPTION_KEY.partition(":")[0]
        if production and any(key.key_id == dev_key_id for key in self.token_encryption_keys):
            raise ConfigurationError(
                "TOKEN_ENCRYPTION_KEYS contains the public development key; generate a real "
                "one with 'fanvue-embedded keys generate'.",
                variable="TOKEN_ENCRYPTION_KEYS",
            )

    @property
    def development(self) -> bool:
        return self.mode == "development"

    @property
    def session_mode(self) -> Literal["bearer", "cookie"]:
        """``cookie`` when app sessions travel in the ``session_cookie_name`` cookie."""
        return "cookie" if self.session_cookie_name else "bearer"

    @property
    def requested_scopes(self) -> tuple[str, ...]:
        """What every authorization asks for: the required OpenID/offline scopes, then the app's."""
        ordered = [*REQUIRED_SCOPES, *self.scopes]
        return tuple(dict.fromkeys(ordered))

    @property
    def platform_origin(self) -> str:
        parts = urlsplit(self.platform_url)
        return f"{parts.scheme}://{parts.netloc}"

    def __repr__(self) -> str:
        shown = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "token_encryption_keys":
                value = [key.key_id for key in value]
            shown.append(f"{item.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (``os.environ`` when not given).

        Reads the Fanvue starter's names with the starter's meanings (``BASE_URL``,
        ``OAUTH_REDIRECT_URI`` optional, ``SESSION_COOKIE_NAME``, ``NODE_ENV``) besides ours.
        No file is read here; see :mod:`fanvue_embedded.envfile` for ``.env``.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        def require(name: str) -> str:
            value = get(name)
            if value is None:
                raise ConfigurationError(f"{name} is not set.", variable=name)
            return value

        scopes = _split_list(get("OAUTH_SCOPES") or "read:self")
        webhook = get("FANVUE_WEBHOOK_SECRET")
        redis_url = get("REDIS_URL")
        keys = get("TOKEN_ENCRYPTION_KEYS")
        public_url = _public_url(get("PUBLIC_URL"), get("BASE_URL"))
        numbers: dict[str, Any] = {
            name: _parse_float(variable, raw, minimum=minimum)
            for name, variable, minimum in (
                ("session_ttl", "SESSION_TTL", 1.0),
                ("session_max_age", "SESSION_MAX_AGE", 1.0),
                ("refresh_leeway", "TOKEN_REFRESH_LEEWAY", 0.0),
                ("exchange_failure_window", "EXCHANGE_FAILURE_WINDOW", 1.0),
                ("entitlement_ttl", "ENTITLEMENT_CACHE_TTL", 0.0),
                ("api_rate_window", "FANVUE_RATE_WINDOW", 1.0),
                ("api_rate_max_wait", "FANVUE_RATE_MAX_WAIT", 0.0),
                ("redis_pool_timeout", "REDIS_POOL_TIMEOUT", 0.001),
                ("redis_socket_timeout", "REDIS_SOCKET_TIMEOUT", 0.001),
            )
            if (raw := get(variable)) is not None
        }
        if (raw_connections := get("REDIS_MAX_CONNECTIONS")) is not None:
            connections = _parse_float("REDIS_MAX_CONNECTIONS", raw_connections, minimum=1.0)
            if connections != int(connections):
                raise ConfigurationError(
                    "REDIS_MAX_CONNECTIONS must be a whole number.",
                    variable="REDIS_MAX_CONNECTIONS",
                )
            numbers["redis_max_connections"] = int(connections)
        return cls(
            client_id=require("OAUTH_CLIENT_ID"),
            client_secret=Secret(require("OAUTH_CLIENT_SECRET")),
            redirect_uri=get("OAUTH_REDIRECT_URI") or _default_redirect_uri(public_url),
            session_secret=Secret(require("SESSION_SECRET")),
            scopes=scopes,
            fanvue_env=get("FANVUE_ENV") or "production",  # type: ignore[arg-type]  # validated
            platform_url=get("FANVUE_PLATFORM_URL") or "",
            issuer_base_url=get("OAUTH_ISSUER_BASE_URL") or "",
            api_base_url=get("API_BASE_URL") or "",
            api_version=get("FANVUE_API_VERSION") or DEFAULT_API_VERSION,
            mode=_mode(get("FANVUE_EMBEDDED_MODE"), get("NODE_ENV")),  # type: ignore[arg-type]
            redis_url=Secret(redis_url) if redis_url else None,
            token_encryption_keys=parse_encryption_keys(keys) if keys else (),
            webhook_secrets=tuple(Secret(s) for s in _split_list(webhook)) if webhook else (),
            session_cookie_name=_cookie_name(get("SESSION_MODE"), get("SESSION_COOKIE_NAME")),
            public_url=public_url,
            embed_path=get("EMBED_PATH") or "/embedded",
            cors_allowed_origins=_split_list(get("CORS_ALLOWED_ORIGINS") or ""),
            exchange_failure_limit=_parse_count(
                "EXCHANGE_FAILURE_LIMIT", get("EXCHANGE_FAILURE_LIMIT") or "20"
            ),
            image_origins=_split_list(get("CSP_IMG_ORIGINS") or ""),
            app_uuid=get("FANVUE_APP_UUID"),
            api_rate_limit=_parse_limit("FANVUE_RATE_LIMIT", get("FANVUE_RATE_LIMIT") or "200"),
            **numbers,
        )


def _mode(explicit: str | None, node_env: str | None) -> str:
    """``FANVUE_EMBEDDED_MODE`` wins; else the starter's ``NODE_ENV=development``; else production.

    Any other ``NODE_ENV`` (``production``, ``test``, ``staging``) means production: relaxing
    the checks takes an explicit "development".
    """
    if explicit is not None:
        return explicit
    return "development" if node_env == "development" else "production"


def _public_url(public_url: str | None, base_url: str | None) -> str | None:
    """``PUBLIC_URL`` is ours, ``BASE_URL`` the starter's name for the same thing."""
    if public_url and base_url and public_url.rstrip("/") != base_url.rstrip("/"):
        raise ConfigurationError(
            "PUBLIC_URL and BASE_URL are both set and differ; they mean the same thing "
            "(the app's public URL), set one.",
            variable="BASE_URL",
        )
    return public_url or base_url


def _default_redirect_uri(public_url: str | None) -> str:
    if public_url is None:
        raise ConfigurationError(
            "OAUTH_REDIRECT_URI is not set, and neither is BASE_URL (or PUBLIC_URL) to derive "
            f"'<BASE_URL>{CALLBACK_PATH}' from.",
            variable="OAUTH_REDIRECT_URI",
        )
    return public_url.rstrip("/") + CALLBACK_PATH


def _cookie_name(mode: str | None, name: str | None) -> str | None:
    """Cookie mode is chosen by ``SESSION_MODE``; ``SESSION_COOKIE_NAME`` only names the cookie."""
    if mode is None or mode == "bearer":
        return None
    if mode != "cookie":
        raise ConfigurationError(
            f"SESSION_MODE must be 'bearer' or 'cookie', got {mode!r}.", variable="SESSION_MODE"
        )
    return name or DEFAULT_SESSION_COOKIE_NAME
