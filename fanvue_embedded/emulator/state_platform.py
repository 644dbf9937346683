"""The platform's rules: single-use session tokens and authorize-on-behalf (PKCE S256 + state)."""

from __future__ import annotations

from typing import Any

from . import tokens
from .state_core import OAuthError, StateCore


class PlatformRules(StateCore):
    """Session tokens as Fanvue appends them to the embed URL, and the code they buy."""

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
