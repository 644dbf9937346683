"""App sessions: what the iframe page holds instead of any Fanvue token.

An app session is a short signed token ``<payload>.<signature>`` (HMAC-SHA256 keyed by a key
derived from ``SESSION_SECRET``) naming the creator and a server-side session id, plus a
record in the ephemeral store under that id. The signature makes forgery impossible; the
record makes logout real (deleting it ends the session at once, whatever the token says).

Renewal slides: a token past half its life is re-issued on use (the app sends it back in
``X-Updated-Session``), up to ``max_age`` from the original sign-in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from .ephemeral import EphemeralStore
from .errors import AppSessionError
from .models import Clock, system_clock
from .values import Secret

__all__ = ["AppSession", "AppSessionManager", "IssuedSession"]

_MAX_TOKEN_LENGTH = 1024
_RECORD_PREFIX = "session:"


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A freshly signed session. ``token`` goes to the browser; ``repr()`` hides it."""

    token: str = field(repr=False)
    creator: str
    session_id: str
    expires_at: float
    csrf_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class AppSession:
    """A verified session. ``renewed`` is set when the caller should hand out a new token."""

    creator: str
    session_id: str
    expires_at: float
    renewed: IssuedSession | None = None


class AppSessionManager:
    """Issues, verifies, renews and ends app sessions."""

    def __init__(
        self,
        *,
        secret: Secret | str,
        store: EphemeralStore,
        ttl: float = 900.0,
        max_age: float = 12 * 3600.0,
        clock: Clock = system_clock,
    ) -> None:
        raw = secret.get_secret_value() if isinstance(secret, Secret) else secret
        if len(raw) < 32:
            raise ValueError("the session secret must be at least 32 characters")
        if ttl <= 0 or max_age < ttl:
            raise ValueError("ttl must be positive and max_age at least ttl")
        # Derived keys: the raw secret signs nothing directly, and CSRF tokens cannot be
        # confused with session signatures.
        self._signing_key = hmac.new(raw.encode(), b"fanvue-embedded/session/v1", "sha256").digest()
        self._csrf_key = hmac.new(raw.encode(), b"fanvue-embedded/csrf/v1", "sha256").digest()
        self._store = store
        self.ttl = ttl
        self.max_age = max_age
        self._clock = clock

    def __repr__(self) -> str:
        return f"AppSessionManager(ttl={self.ttl}, max_age={self.max_age})"

    # -- issuing -----------------------------------------------------------------------

    def _sign(self, payload: dict[str, Any]) -> str:
        body = _b64encode(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        signature = hmac.new(self._signing_key, body.encode("ascii"), hashlib.sha256).digest()
        return f"{body}.{_b64encode(signature)}"

    def csrf_token_for(self, session_id: str) -> str:
        """The CSRF token of a session (cookie mode): stateless, bound to the session id."""
        digest = hmac.new(self._csrf_key, session_id.encode(), hashlib.sha256).digest()
        return _b64encode(digest)

    def check_csrf(self, session_id: str, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(self.csrf_token_for(session_id).encode(), presented.encode())

    def _token(self, creator: str, session_id: str, started_at: float) -> IssuedSession:
        now = self._clock()
        expires_at = min(now + self.ttl, started_at + self.max_age)
        token = self._sign({"sub": creator, "sid": session_id, "iat": int(now), "exp": expires_at})
        return IssuedSession(
            token=token,
            creator=creator,
            session_id=session_id,
            expires_at=expires_at,
            csrf_token=self.csrf_token_for(session_id),
        )

    async def issue(self, creator: str) -> IssuedSession:
        """Start a new session for ``creator``."""
        if not creator:
            raise ValueError("creator is empty")
        session_id = secrets.token_urlsafe(24)
        started_at = self._clock()
        record = json.dumps({"c": creator, "s": started_at}).encode()
        await self._store.put(_RECORD_PREFIX + session_id, record, self.ttl)
        return self._token(creator, session_id, started_at)

    # -- verifying ---------------------------------------------------------------------

    def _decode(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
            raise AppSessionError("missing or oversized app session")
        body, sep, signature = token.partition(".")
        if not sep or not body or not signature:
            raise AppSessionError("malformed app session")
        expected = hmac.new(self._signing_key, body.encode("ascii", "replace"), hashlib.sha256)
        # Compare the canonical spelling: a session has exactly one valid form, so padding,
        # '+'/'/' or stray characters in the signature never authenticate.
        if not hmac.compare_digest(_b64encode(expected.digest()).encode(), signature.encode()):
            raise AppSessionError("app session signature mismatch")
        try:
            payload = json.loads(_b64decode(body))
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise AppSessionError("malformed app session") from exc
        if (
            not isinstance(payload, dict)
            or not isinstance(payload.get("sub"), str)
            or not isinstance(payload.get("sid"), str)
            or not isinstance(payload.get("exp"), int | float)
        ):
            raise AppSessionError("malformed app session payload")
        return payload

    async def verify(self, token: str) -> AppSession:
        """Check signature, expiry and the server-side record; renew past half-life."""
        payload = self._decode(token)
        now = self._clock()
        if payload["exp"] <= now:
            raise AppSessionError("app session expired")
        session_id: str = payload["sid"]
        raw = await self._store.get(_RECORD_PREFIX + session_id)
        if raw is None:
            raise AppSessionError("app session ended")
        record = json.loads(raw)
        if record.get("c") != payload["sub"]:
            raise AppSessionError("app session does not match its record")
        started_at = float(record["s"])
        renewed = None
        remaining = payload["exp"] - now
        if remaining < self.ttl / 2 and started_at + self.max_age > now + remaining:
            renewed = self._token(payload["sub"], session_id, started_at)
            await self._store.touch(_RECORD_PREFIX + session_id, renewed.expires_at - now)
        return AppSession(
            creator=payload["sub"],
            session_id=session_id,
            expires_at=renewed.expires_at if renewed else float(payload["exp"]),
            renewed=renewed,
        )

    async def end(self, session_id: str) -> bool:
        """Log out: the record goes, so every token of this session stops working."""
        return await self._store.delete(_RECORD_PREFIX + session_id)
