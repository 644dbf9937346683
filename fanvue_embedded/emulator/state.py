"""The emulator's whole world in memory, and Fanvue's rules over it, without HTTP.

Routes translate requests into calls here and ``OAuthError`` back into responses, so every
rule can be tested directly. Each public method holds one re-entrant lock for its whole body
and never awaits, so concurrent requests (and tests poking the state from another thread
while uvicorn serves) see each change whole.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import threading
import uuid
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote_plus, urlencode

from . import tokens
from .config import BASE_SCOPES, EmulatorConfig
from .faults import Faults
from .records import AuthorizationCode, Chain, Counters, Creator, RefreshRecord, creator_uuid
from .world.model import Owner
from .world.registry import Worlds

SEED_CREATORS = (
    ("luna.rivers", "Luna Rivers", True),
    ("max.stone", "Max Stone", False),
)
OFFLINE_SCOPES = frozenset({"offline_access", "offline"})


class OAuthError(Exception):
    """A rule said no: becomes ``{"error", "error_description"}`` with ``status``."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _invalid_grant(description: str) -> OAuthError:
    return OAuthError(400, "invalid_grant", description)


@dataclass
class AppRegistration:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    app_url: str | None
    webhook_url: str | None
    webhook_secret: str

    def public_view(self) -> dict[str, Any]:
        return {
            "client_id": self.client_id,
            "client_secret": "********",  # never returned: write-only, like Fanvue's console
            "redirect_uris": list(self.redirect_uris),
            "scopes": list(self.scopes),
            "app_url": self.app_url,
            "webhook_url": self.webhook_url,
        }


@dataclass
class Settings:
    grace_seconds: float
    rotation_mode: str
    access_token_ttl: int
    refresh_token_ttl: int
    session_token_ttl: int
    code_ttl: int
    rate_limit: int
    rate_window: int
    standard_flow_creator: str | None
    api_versions: tuple[str, ...]
    retired_api_versions: tuple[str, ...]
    upload_ready_seconds: float = 2.0
    standard_flow_decision: str = "approve"

    def view(self) -> dict[str, Any]:
        view = dict(self.__dict__)
        view["api_versions"] = list(self.api_versions)
        view["retired_api_versions"] = list(self.retired_api_versions)
        return view


WEBHOOK_HISTORY = 50


class EmulatorState:
    """Creators, consents, codes, token chains, rate windows, faults and counters."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self.faults = Faults(seed=config.seed)
        self._initialise()

    def _initialise(self) -> None:
        config = self.config
        self.offset = 0.0
        # Newest first, bounded: what the dashboard's webhook history shows.
        self.webhook_deliveries: list[dict[str, Any]] = []
        self.app = AppRegistration(
            client_id=config.client_id,
            client_secret=config.client_secret,
            redirect_uris=tuple(config.redirect_uris),
            scopes=tuple(dict.fromkeys((*BASE_SCOPES, *config.scopes))),
            app_url=config.app_url,
            webhook_url=config.webhook_url,
            webhook_secret=config.webhook_secret,
        )
        self.creators: dict[str, Creator] = {}
        if config.seed_creators:
            for handle, display_name, consent in SEED_CREATORS:
                self._add_creator(handle, display_name, consent)
        self.settings = Settings(
            grace_seconds=config.grace_seconds,
            rotation_mode=config.rotation_mode,
            access_token_ttl=config.access_token_ttl,
            refresh_token_ttl=config.refresh_token_ttl,
            session_token_ttl=config.session_token_ttl,
            code_ttl=config.code_ttl,
            rate_limit=config.rate_limit,
            rate_window=config.rate_window,
            standard_flow_creator=creator_uuid("luna.rivers") if config.seed_creators else None,
            api_versions=tuple(config.api_versions),
            retired_api_versions=tuple(config.sunset_versions),
        )
        self.worlds = Worlds(config.seed, self.now, self._owner)
        self.used_session_tokens: set[str] = set()
        self.codes: dict[str, AuthorizationCode] = {}
        self.chains: dict[str, Chain] = {}
        self.refresh_tokens: dict[str, RefreshRecord] = {}
        self.access_jtis: dict[str, set[str]] = {}
        self.revoked_jtis: set[str] = set()
        self.rate_windows: dict[str, tuple[float, int]] = {}
        self.counters = Counters()

    def reset(self) -> None:
        """Everything back to the start-up state (registration from the config again)."""
        with self._lock:
            self._initialise()
            self.faults.reset()

    # -- clock ---------------------------------------------------------------------------

    def now(self) -> float:
        return self.config.clock() + self.offset

    def advance_clock(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds

    # -- creators and consent ------------------------------------------------------------

    def _add_creator(self, handle: str, display_name: str, consent: bool) -> Creator:
        creator = Creator(
            uuid=creator_uuid(handle),
            handle=handle,
            display_name=display_name,
            email=f"{handle.split('.')[0]}@example.test",
            consent=consent,
        )
        self.creators[creator.uuid] = creator
        return creator

    def add_creator(self, handle: str, display_name: str | None, consent: bool) -> Creator:
        with self._lock:
            if self.find_creator(handle) is not None:
                raise ValueError(f"creator {handle!r} exists")
            return self._add_creator(handle, display_name or handle, consent)

    def _owner(self, user_uuid: str) -> Owner | None:
        found = self.creators.get(user_uuid)
        if found is None:
            return None
        return Owner(found.uuid, found.handle, found.display_name, found.email, found.is_creator)

    def find_creator(self, ref: str) -> Creator | None:
        """By uuid or by handle."""
        with self._lock:
            if ref in self.creators:
                return self.creators[ref]
            return next((c for c in self.creators.values() if c.handle == ref), None)

    def set_consent(self, creator: str, granted: bool) -> Creator:
        with self._lock:
            found = self.creators[creator]
            found.consent = granted
            if not granted:
                for chain in self.chains.values():
                    if chain.creator == creator and chain.alive:
                        self._kill_chain(chain, "consent_revoked")
            return found

    # -- session tokens and authorize-on-behalf ------------------------------------------

    def issue_session_token(self, creator: str, ttl: float | None = None) -> tuple[str, float]:
        """A signed single-use token as Fanvue appends to the embed URL."""
        with self._lock:
            if creator not in self.creators:
                raise KeyError(creator)
            now = self.now()
            expires_at = now + (self.settings.session_token_ttl if ttl is None else ttl)
            claims = {
                "typ": "session",
                "sub": creator,
                "aud": self.app.client_id,
                "iat": now,
                "exp": expires_at,
                "jti": tokens.new_jti(),
            }
            return tokens.sign_jwt(self.config.signing_key, claims), expires_at

    def _check_session_token(self, token: str | None) -> dict[str, Any]:
        def invalid(description: str) -> OAuthError:
            return OAuthError(401, "invalid_session_token", description)

        if not token:
            raise invalid("missing session token")
        try:
            claims = tokens.verify_jwt(self.config.signing_key, token)
        except tokens.JWTError as exc:
            raise invalid(exc.reason) from exc
        if claims.get("typ") != "session" or claims.get("sub") not in self.creators:
            raise invalid("not a session token")
        if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= self.now():
            raise invalid("session token expired")
        if claims.get("jti") in self.used_session_tokens:
            raise invalid("session token already used")
        return claims

    def authorize_on_behalf(self, session_token: str | None, body: object) -> dict[str, str]:
        with self._lock:
            claims = self._check_session_token(session_token)
            if not isinstance(body, dict):
                raise OAuthError(400, "invalid_request", "body must be a JSON object")
            if body.get("code_challenge_method") != "S256":
                raise OAuthError(400, "invalid_request", "code_challenge_method must be S256")
            challenge = body.get("code_challenge")
            if not tokens.is_s256_challenge(challenge):
                raise OAuthError(400, "invalid_request", "code_challenge must be an S256 value")
            state = body.get("state")
            if not isinstance(state, str) or not state:
                raise OAuthError(400, "invalid_request", "state is required")
            creator = self.creators[claims["sub"]]
            if not creator.consent:
                raise OAuthError(403, "consent_required", "the creator has not approved this app")
            # Consumed only now: a request refused above leaves the token usable.
            self.used_session_tokens.add(str(claims["jti"]))
            code = self._new_code(creator.uuid, str(challenge), self.app.scopes, None)
            self.counters.authorize_on_behalf += 1
            return {"code": code, "state": state}

    def _new_code(
        self, creator: str, challenge: str, scopes: tuple[str, ...], redirect_uri: str | None
    ) -> str:
        code = tokens.new_code()
        self.codes[code] = AuthorizationCode(
            code=code,
            creator=creator,
            client_id=self.app.client_id,
            challenge=challenge,
            scopes=scopes,
            redirect_uri=redirect_uri,
            expires_at=self.now() + self.settings.code_ttl,
        )
        return code

    # -- standard flow -------------------------------------------------------------------

    def authorize_standard(self, params: dict[str, str]) -> str:
        """Return the redirect URL; raise ``OAuthError`` when no redirect is allowed."""
        with self._lock:
            if params.get("client_id") != self.app.client_id:
                raise OAuthError(400, "invalid_client", "unknown client_id")
            redirect_uri = params.get("redirect_uri", "")
            if redirect_uri not in self.app.redirect_uris:
                raise OAuthError(400, "invalid_request", "redirect_uri is not registered")
            state = params.get("state")

            def back(**query: str) -> str:
                if state is not None:
                    query["state"] = state
                joiner = "&" if "?" in redirect_uri else "?"
                return redirect_uri + joiner + urlencode(query)

            if params.get("response_type") != "code":
                return back(error="unsupported_response_type")
            if not state:
                return back(error="invalid_request", error_description="state is required")
            if params.get("code_challenge_method") != "S256" or not tokens.is_s256_challenge(
                params.get("code_challenge")
            ):
                return back(error="invalid_request", error_description="S256 PKCE is required")
            requested = tuple(params.get("scope", "").split())
            if any(scope not in self.app.scopes for scope in requested):
                return back(error="invalid_scope")
            creator = self.creators.get(self.settings.standard_flow_creator or "")
            if creator is None:
                return back(error="login_required")
            if self.settings.standard_flow_decision != "approve":
                return back(error="access_denied")
            code = self._new_code(creator.uuid, params["code_challenge"], requested, redirect_uri)
            return back(code=code)

    # -- token endpoint ------------------------------------------------------------------

    def authenticate_client(self, authorization: str | None, form: dict[str, str]) -> str:
        """client_secret_basic per RFC 6749 §2.3.1; anything else is ``invalid_client``."""
        with self._lock:
            try:
                if "client_secret" in form:
                    raise ValueError("client_secret_post is not allowed for this client")
                scheme, _, encoded = (authorization or "").partition(" ")
                if scheme.lower() != "basic" or not encoded:
                    raise ValueError("client authentication failed")
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
                raw_id, sep, raw_secret = decoded.partition(":")
                if not sep:
                    raise ValueError("client authentication failed")
                client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
                id_ok = hmac.compare_digest(client_id.encode(), self.app.client_id.encode())
                secret_ok = hmac.compare_digest(secret.encode(), self.app.client_secret.encode())
                if not (id_ok and secret_ok):
                    raise ValueError("client authentication failed")
                return client_id
            except (ValueError, binascii.Error, UnicodeError) as exc:
                self.counters.invalid_client += 1
                description = (
                    str(exc)
                    if "client_secret_post" in str(exc)
                    else ("client authentication failed")
                )
                raise OAuthError(
                    401, "invalid_client", description, {"WWW-Authenticate": 'Basic realm="oauth2"'}
                ) from exc

    def exchange_code(self, client_id: str, form: dict[str, str], issuer: str) -> dict[str, Any]:
        with self._lock:
            code = self.codes.get(form.get("code", ""))
            if code is None or code.used:
                raise _invalid_grant("the authorization code is invalid or was already used")
            if code.expires_at <= self.now():
                raise _invalid_grant("the authorization code has expired")
            if code.client_id != client_id:
                raise _invalid_grant("the authorization code was issued to another client")
            redirect_uri = form.get("redirect_uri", "")
            expected = (code.redirect_uri,) if code.redirect_uri else self.app.redirect_uris
            if redirect_uri not in expected:
                raise _invalid_grant("redirect_uri does not match")
            verifier = form.get("code_verifier", "")
            if not tokens.is_code_verifier(verifier) or not hmac.compare_digest(
                tokens.s256(verifier), code.challenge
            ):
                raise _invalid_grant("the PKCE code_verifier does not match the challenge")
            code.used = True
            chain = Chain(
                id=uuid.uuid4().hex, creator=code.creator, client_id=client_id, scopes=code.scopes
            )
            self.chains[chain.id] = chain
            self.counters.code_exchanges += 1
            return self._mint(chain, issuer)

    def refresh_chain_id(self, refresh_token: str) -> str | None:
        with self._lock:
            record = self.refresh_tokens.get(refresh_token)
            return record.chain_id if record else None

    def refresh(
        self, client_id: str, refresh_token: str, issuer: str
    ) -> tuple[dict[str, Any], bool]:
        """Rotate per Hydra; returns ``(response, rotated)``.

        ``rotated`` is False for a grace-window reuse. In ``new-pair`` mode a reuse issues a
        fresh pair that becomes the chain's current token, and the first successor stays valid
        as a sibling until it is itself used: any unused token of a live chain can rotate.
        """
        with self._lock:
            record = self.refresh_tokens.get(refresh_token)
            if record is None:
                raise _invalid_grant("the refresh token is not known")
            chain = self.chains[record.chain_id]
            if chain.client_id != client_id:
                raise _invalid_grant("the refresh token was issued to another client")
            if not chain.alive:
                raise _invalid_grant("the refresh token's grant has been revoked")
            now = self.now()
            if record.expires_at <= now:
                raise _invalid_grant("the refresh token has expired")
            if record.used_at is None:
                response = self._mint(chain, issuer)
                record.used_at = now
                record.first_response = response
                self.counters.rotations += 1
                return response, True
            if now - record.used_at <= self.settings.grace_seconds:
                self.counters.grace_reuses += 1
                if self.settings.rotation_mode == "replay" and record.first_response is not None:
                    return dict(record.first_response), False
                return self._mint(chain, issuer), False
            self._kill_chain(chain, "reuse_after_grace")
            raise _invalid_grant("the refresh token was already used; the grant is revoked")

    def _kill_chain(self, chain: Chain, cause: str) -> None:
        chain.alive = False
        chain.cause = cause
        self.counters.chain_breaks += 1
        by_cause = self.counters.chain_breaks_by_cause
        by_cause[cause] = by_cause.get(cause, 0) + 1

    def _mint(self, chain: Chain, issuer: str) -> dict[str, Any]:
        now = self.now()
        ttl = self.settings.access_token_ttl
        jti = tokens.new_jti()
        self.access_jtis.setdefault(chain.creator, set()).add(jti)
        access = tokens.sign_jwt(
            self.config.signing_key,
            {
                "typ": "access",
                "iss": issuer,
                "sub": chain.creator,
                "client_id": chain.client_id,
                "scp": list(chain.scopes),
                "iat": int(now),
                "exp": now + ttl,
                "jti": jti,
            },
        )
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ttl,
            "scope": " ".join(chain.scopes),
        }
        if OFFLINE_SCOPES & set(chain.scopes):
            refresh = tokens.new_refresh_token()
            self.refresh_tokens[refresh] = RefreshRecord(
                token=refresh,
                chain_id=chain.id,
                expires_at=now + self.settings.refresh_token_ttl,
            )
            chain.current = refresh
            response["refresh_token"] = refresh
        if "openid" in chain.scopes:
            response["id_token"] = tokens.sign_jwt(
                self.config.signing_key,
                {
                    "typ": "id",
                    "iss": issuer,
                    "sub": chain.creator,
                    "aud": [chain.client_id],
                    "iat": int(now),
                    "exp": now + ttl,
                    "jti": tokens.new_jti(),
                },
            )
        return response

    # -- API access ----------------------------------------------------------------------

    def authenticate_access(self, authorization: str | None) -> tuple[Creator, dict[str, Any]]:
        """The creator an access token speaks for; 401 ``invalid_token`` otherwise."""
        with self._lock:
            scheme, _, token = (authorization or "").partition(" ")

            def invalid(description: str) -> OAuthError:
                challenge = f'Bearer error="invalid_token", error_description="{description}"'
                return OAuthError(
                    401, "invalid_token", description, {"WWW-Authenticate": challenge}
                )

            if scheme.lower() != "bearer" or not token:
                raise invalid("missing bearer token")
            try:
                claims = tokens.verify_jwt(self.config.signing_key, token.strip())
            except tokens.JWTError as exc:
                raise invalid(exc.reason) from exc
            if claims.get("typ") != "access" or claims.get("sub") not in self.creators:
                raise invalid("not an access token")
            if not isinstance(claims.get("exp"), int | float) or claims["exp"] <= self.now():
                raise invalid("the access token has expired")
            if claims.get("jti") in self.revoked_jtis:
                raise invalid("the access token has expired")
            return self.creators[claims["sub"]], claims

    def expire_access_tokens(self, creator: str) -> int:
        with self._lock:
            jtis = self.access_jtis.pop(creator, set())
            self.revoked_jtis |= jtis
            return len(jtis)

    def take_rate_limit(self, bucket: str) -> tuple[bool, dict[str, str]]:
        """Take one token from ``bucket`` (``clientId:userUuid[:creatorUserUuid]``).

        The bucket refills fully every ``rate_window`` seconds, as Fanvue documents; the
        result says whether the call may go ahead, plus the headers for its response.
        """
        with self._lock:
            now = self.now()
            limit, window = self.settings.rate_limit, self.settings.rate_window
            start, count = self.rate_windows.get(bucket, (now, 0))
            if now >= start + window:
                start, count = now, 0
            allowed = count < limit
            if allowed:
                count += 1
            self.rate_windows[bucket] = (start, count)
            reset = start + window
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(limit - count, 0)),
                "X-RateLimit-Reset": str(math.ceil(reset)),
            }
            if not allowed:
                self.counters.rate_limited += 1
                headers["Retry-After"] = str(max(math.ceil(reset - now), 1))
            return allowed, headers

    # -- control helpers -----------------------------------------------------------------

    def update_app(self, **changes: Any) -> AppRegistration:
        with self._lock:
            self.app = replace(self.app, **changes)
            return self.app

    def update_settings(self, **changes: Any) -> Settings:
        with self._lock:
            self.settings = replace(self.settings, **changes)
            return self.settings

    def count_call(self, key: str) -> None:
        with self._lock:
            calls = self.counters.calls
            calls[key] = calls.get(key, 0) + 1

    def record_webhook_delivery(self, delivery: dict[str, Any]) -> None:
        with self._lock:
            self.webhook_deliveries.insert(0, delivery)
            del self.webhook_deliveries[WEBHOOK_HISTORY:]

    def reset_counters(self) -> None:
        with self._lock:
            self.counters = Counters()

    def bump(self, counter: str) -> None:
        """Add one to a plain integer counter."""
        with self._lock:
            setattr(self.counters, counter, getattr(self.counters, counter) + 1)
