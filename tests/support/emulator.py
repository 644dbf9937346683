"""A running emulator for tests: real socket, reset between tests, driven by its control API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


@dataclass
class EmulatorHandle:
    """The base URL of a running emulator and a synchronous client for ``/_emulator/``."""

    base_url: str

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        if method != "GET" and "json" not in kwargs:
            # The emulator refuses state-changing control calls that are not JSON.
            kwargs.setdefault("headers", {"Content-Type": "application/json"})
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
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
