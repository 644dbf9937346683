"""Signing secrets of the webhook subscriptions an app created through the API, per creator.

``POST /webhooks/subscriptions`` returns a subscription's ``signingSecret`` once
(``subscriptions.py``); deliveries for it are signed with that secret, not the app-wide one.
The secrets are sealed with the token keyring (AES-256-GCM, associated data
``webhook-secret|<creator>|<subscription>``, so a sealed secret copied to another creator or
subscription does not open). Redis layout, per creator (hash-tagged like the token keys)::

    {prefix}:{<creator>}:whs   hash  subscription id -> sealed signing secret
"""

from __future__ import annotations

from typing import Protocol

from .._redis import RedisClient, close_redis, ensure_bytes_client, translate_redis_errors
from ..crypto import Keyring

__all__ = ["MemorySubscriptionSecrets", "RedisSubscriptionSecrets", "SubscriptionSecrets"]


def _context(creator: str, subscription: str) -> str:
    return f"webhook-secret|{creator}|{subscription}"


def _check(creator: str, subscription: str) -> None:
    for name, value in (("creator", creator), ("subscription", subscription)):
        if not value or len(value) > 200 or any(c in value for c in "{}|\r\n"):
            raise ValueError(f"{name} id {value!r} is empty, too long or has reserved characters")


def _decoded(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


class SubscriptionSecrets(Protocol):
    """Per-creator signing secrets of API-created webhook subscriptions."""

    async def put(self, creator: str, subscription: str, secret: str) -> None:
        """Store (or replace) the secret of ``subscription``."""
        ...

    async def secrets_for(self, creator: str) -> list[str]:
        """Every stored secret of ``creator``'s subscriptions (the verifier tries each)."""
        ...

    async def subscriptions(self, creator: str) -> list[str]:
        """The subscription ids ``creator`` has a stored secret for."""
        ...

    async def delete(self, creator: str, subscription: str) -> bool: ...

    async def aclose(self) -> None: ...


class MemorySubscriptionSecrets:
    """In-process :class:`SubscriptionSecrets` (development, tests); sealed like on Redis."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._sealed: dict[str, dict[str, bytes]] = {}

    async def put(self, creator: str, subscription: str, secret: str) -> None:
        _check(creator, subscription)
        blob = self._keyring.encrypt(secret.encode(), context=_context(creator, subscription))
        self._sealed.setdefault(creator, {})[subscription] = blob

    async def secrets_for(self, creator: str) -> list[str]:
        return [
            self._keyring.decrypt(blob, context=_context(creator, sub)).plaintext.decode()
            for sub, blob in self._sealed.get(creator, {}).items()
        ]

    async def subscriptions(self, creator: str) -> list[str]:
        return sorted(self._sealed.get(creator, {}))

    async def delete(self, creator: str, subscription: str) -> bool:
        return self._sealed.get(creator, {}).pop(subscription, None) is not None

    async def aclose(self) -> None:
        self._sealed.clear()


class RedisSubscriptionSecrets:
    """:class:`SubscriptionSecrets` on Redis (see the module docstring for the layout)."""

    def __init__(
        self,
        redis: RedisClient,
        keyring: Keyring,
        prefix: str = "fve",
        *,
        close_client: bool = False,
    ) -> None:
        ensure_bytes_client(redis)
        self._redis = redis
        self._keyring = keyring
        self._prefix = prefix
        self._close_client = close_client

    def _key(self, creator: str) -> str:
        return f"{self._prefix}:{{{creator}}}:whs"

    async def put(self, creator: str, subscription: str, secret: str) -> None:
        _check(creator, subscription)
        blob = self._keyring.encrypt(secret.encode(), context=_context(creator, subscription))
        async with translate_redis_errors():
            await self._redis.hset(self._key(creator), subscription, blob)

    async def secrets_for(self, creator: str) -> list[str]:
        if not creator or any(c in creator for c in "{}|\r\n"):
            return []
        async with translate_redis_errors():
            sealed = await self._redis.hgetall(self._key(creator))
        found: list[str] = []
        for raw_subscription, blob in sealed.items():
            subscription = _decoded(raw_subscription)
            sealed_blob = blob.encode() if isinstance(blob, str) else bytes(blob)
            opened = self._keyring.decrypt(sealed_blob, context=_context(creator, subscription))
            found.append(opened.plaintext.decode())
        return found

    async def subscriptions(self, creator: str) -> list[str]:
        async with translate_redis_errors():
            names = await self._redis.hkeys(self._key(creator))
        return sorted(_decoded(name) for name in names)

    async def delete(self, creator: str, subscription: str) -> bool:
        async with translate_redis_errors():
            return bool(await self._redis.hdel(self._key(creator), subscription))

    async def aclose(self) -> None:
        if self._close_client:
            await close_redis(self._redis)
