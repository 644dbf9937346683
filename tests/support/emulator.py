"""A running emulator for tests: real socket, reset between tests, driven by its control API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from fanvue_embedded._http import shared_tls_context


@dataclass
class EmulatorHandle:
    """The base URL of a running emulator and a synchronous client for ``/_emulator/``."""

    base_url: str

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        if method != "GET" and "json" not in kwargs:
            # The emulator refuses state-changing control calls that are not JSON.
            kwargs.setdefault("headers", {"Content-Type": "application/json"})
        with httpx.Client(
            verify=shared_tls_context(), base_url=self.base_url, timeout=30
        ) as client:
            response = client.request(method, f"/_emulator{path}", **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def reset(self) -> None:
        self.control("POST", "/reset")

    def session_token(self, creator: str = "luna.rivers", ttl: float | None = None) -> str:
        body: dict[str, Any] = {"creator": creator}
        if ttl is not None:
            body["ttl"] = ttl
        token: str = self.control("POST", "/session-tokens", json=body)["token"]
        return token

    def creator_uuid(self, handle: str = "luna.rivers") -> str:
        for creator in self.control("GET", "/creators"):
            if creator["handle"] == handle:
                return str(creator["uuid"])
        raise LookupError(handle)

    def counters(self) -> dict[str, Any]:
        counters: dict[str, Any] = self.control("GET", "/counters")
        return counters

    def settings(self, **changes: Any) -> None:
        self.control("PATCH", "/settings", json=changes)

    def faults(self, **changes: Any) -> None:
        self.control("PATCH", "/faults", json=changes)

    def advance(self, seconds: float) -> None:
        self.control("POST", "/clock", json={"advance": seconds})

    def now(self) -> float:
        return float(self.control("GET", "/clock")["now"])

    def seed_world(self, creator: str = "luna.rivers", **counts: int) -> dict[str, int]:
        """Replace collections of the creator's API world with N deterministic items each
        (``followers=10_000, chats=20, ...``); returns every collection's count."""
        result: dict[str, int] = self.control("POST", f"/creators/{creator}/world", json=counts)
        return result

    def make_agency(self, agency: str = "luna.rivers", *managed: str) -> None:
        """Make ``agency`` (uuid or handle) an agency managing ``managed`` (default: max.stone)."""
        manages = list(managed or ("max.stone",))
        self.control("PUT", f"/creators/{agency}/agency", json={"manages": manages})

    def access_token(self, creator: str = "luna.rivers", *extra_scopes: str) -> str:
        """An access token for ``creator`` through authorize-on-behalf and the token endpoint,
        as the app gets one; ``extra_scopes`` are registered for the app first."""
        import base64
        import hashlib
        import secrets
        from urllib.parse import quote_plus

        from fanvue_embedded._devdefaults import DEV_CLIENT_ID, DEV_CLIENT_SECRET

        app = self.control("GET", "/app")
        if extra_scopes:
            self.control("PATCH", "/app", json={"scopes": [*app["scopes"], *extra_scopes]})
        verifier = secrets.token_urlsafe(48)
        challenge = (
            base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        pair = f"{quote_plus(DEV_CLIENT_ID)}:{quote_plus(DEV_CLIENT_SECRET)}".encode()
        with httpx.Client(
            verify=shared_tls_context(), base_url=self.base_url, timeout=10
        ) as client:
            code = client.post(
                "/api/v1/app-integrations/authorize-on-behalf",
                headers={"Authorization": f"Bearer {self.session_token(creator)}"},
                json={"code_challenge": challenge, "code_challenge_method": "S256", "state": "s"},
            )
            code.raise_for_status()
            tokens = client.post(
                "/oauth2/token",
                headers={"Authorization": "Basic " + base64.b64encode(pair).decode()},
                data={
                    "grant_type": "authorization_code",
                    "code": code.json()["code"],
                    "redirect_uri": app["redirect_uris"][0],
                    "code_verifier": verifier,
                },
            )
            tokens.raise_for_status()
        token: str = tokens.json()["access_token"]
        return token

    def api(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        """One Fanvue API call with ``token`` and the version header."""
        headers = {"Authorization": f"Bearer {token}", "X-Fanvue-API-Version": "2025-06-26"}
        with httpx.Client(
            verify=shared_tls_context(), base_url=self.base_url, timeout=10
        ) as client:
            return client.request(method, path, headers=headers, **kwargs)
