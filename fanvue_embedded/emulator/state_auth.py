"""The authorization server's rules (Hydra): the standard flow, client authentication, code
exchange, refresh-token rotation with its grace window, and access-token checks for the API."""

from __future__ import annotations

import base64
import binascii
import hmac
import uuid
from typing import Any
from urllib.parse import unquote_plus, urlencode

from . import tokens
from .records import Chain, Creator, RefreshRecord
from .state_core import OFFLINE_SCOPES, OAuthError, StateCore, _invalid_grant


class AuthServerRules(StateCore):
    """Codes, token chains, rotation and the checks the API makes on access tokens."""

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
