"""One contract, two stores: every behaviour here holds for MemoryTokenStore and RedisTokenStore."""

from __future__ import annotations

import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.typing import EncodableT, FieldT

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.config import EncryptionKey
from fanvue_embedded.crypto import Keyring
from fanvue_embedded.errors import DecryptionError, GenerationConflict
from fanvue_embedded.models import TokenSet
from fanvue_embedded.store import MemoryTokenStore, RedisTokenStore, TokenStore
from tests.support.redis_topology import redis_url_for

pytestmark = pytest.mark.both_topologies

ALICE = "5b0e8a52-0f5c-4a8e-9a57-111111111111"
BOB = "5b0e8a52-0f5c-4a8e-9a57-222222222222"
CAROL = "5b0e8a52-0f5c-4a8e-9a57-333333333333"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def tokens(n: int = 1, *, expires_at: float = 1_700_003_600.0) -> TokenSet:
    return TokenSet(
        access_token=f"eyJhbGciOiJSUzI1NiJ9.access-{n}.sig",
        expires_at=expires_at,
        refresh_token=f"ory_rt_refresh-{n}",
        scopes=frozenset({"openid", "offline_access", "read:self"}),
        id_token=f"eyJhbGciOiJSUzI1NiJ9.id-{n}.sig",
    )


def key(key_id: str) -> EncryptionKey:
    return EncryptionKey(key_id, os.urandom(32))


@dataclass
class Harness:
    store: MemoryTokenStore | RedisTokenStore
    clock: FakeClock
    first_key: EncryptionKey
    """The key the store's keyring starts with (id ``k1``)."""
    copy_value: Callable[[str, str], Awaitable[None]]
    """Copy the raw stored ciphertext of one creator onto another (an attacker with DB access)."""


@pytest.fixture(params=["memory", "redis", "cluster"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    clock = FakeClock()
    first_key = key("k1")
    keyring = Keyring([first_key])
    if request.param == "memory":
        memory = MemoryTokenStore(keyring, clock=clock)

        async def copy_memory(source: str, target: str) -> None:
            from fanvue_embedded.store import _Record

            blob = memory._records[source].blob
            memory._records[target] = _Record(generation=1, blob=blob, updated_at=clock())

        yield Harness(memory, clock, first_key, copy_memory)
        return
    redis_url = redis_url_for(request, request.param)
    store = RedisTokenStore.from_url(redis_url, keyring, clock=clock)
    raw = redis_from_url(redis_url)

    async def copy_redis(source: str, target: str) -> None:
        stored = await raw.hgetall(f"fve:{{{source}}}:t")
        fields: dict[FieldT, EncodableT] = {name: value for name, value in stored.items()}
        await raw.hset(f"fve:{{{target}}}:t", mapping=fields)

    try:
        yield Harness(store, clock, first_key, copy_redis)
    finally:
        await raw.aclose()
        await store.aclose()


def without_id_token(value: TokenSet) -> TokenSet:
    return TokenSet(value.access_token, value.expires_at, value.refresh_token, value.scopes)


@pytest.mark.anyio
class TestTokenStoreContract:
    async def test_conforms_to_the_protocol(self, harness: Harness) -> None:
        # Every public TokenStore method exists with the protocol's parameter names and kinds
        # (callers pass most of them by keyword), and the store says it is ready.
        store = harness.store
        for name, declared in inspect.getmembers(TokenStore, inspect.isfunction):
            if name.startswith("_"):
                continue
            implemented = getattr(store, name)
            # Awaitable where declared async; called plainly where declared plain (an async
            # generator is a plain call returning an AsyncIterator).
            assert inspect.iscoroutinefunction(implemented) == inspect.iscoroutinefunction(
                declared
            ), name
            expected = list(inspect.signature(declared).parameters.values())[1:]  # no self
            actual = list(inspect.signature(implemented).parameters.values())
            assert [(p.name, p.kind) for p in actual] == [(p.name, p.kind) for p in expected], name
        assert await store.ping() is True

    async def test_round_trip_keeps_everything_but_the_id_token(self, harness: Harness) -> None:
        store = harness.store
        assert await store.load(ALICE) is None
        generation = await store.save(ALICE, tokens(1), expected_generation=0)
        loaded = await store.load(ALICE)
        assert loaded is not None
        assert loaded.creator == ALICE
        assert loaded.generation == generation == 1
        assert loaded.updated_at == harness.clock.now
        assert loaded.tokens == without_id_token(tokens(1))
        assert loaded.tokens.id_token is None
        assert await store.load(BOB) is None

    @pytest.mark.parametrize(
        "access_token",
        [
            "opaque-ory_at_token",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiLDqSJ9.c2ln",  # a JWT (payload holds non-ASCII)
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0x.c2ln",  # non-canonical payload segment
            "eyJhbGciOiJIUzI1NiJ9.e$J9.c2ln",  # stray character in a segment
            "a.b",
            "eyJ9.eyJ9.",  # empty signature
            "...",
        ],
    )
    async def test_round_trip_is_exact_for_any_token_shape(
        self, harness: Harness, access_token: str
    ) -> None:
        original = TokenSet(access_token, 1.5, None, frozenset())
        await harness.store.save(ALICE, original, expected_generation=None)
        loaded = await harness.store.load(ALICE)
        assert loaded is not None
        assert loaded.tokens == original

    async def test_generation_compare_and_set(self, harness: Harness) -> None:
        store = harness.store
        assert await store.generation(ALICE) == 0
        assert await store.save(ALICE, tokens(1), expected_generation=0) == 1
        with pytest.raises(GenerationConflict):
            await store.save(ALICE, tokens(2), expected_generation=0)
        assert await store.save(ALICE, tokens(2), expected_generation=1) == 2
        with pytest.raises(GenerationConflict):
            await store.save(ALICE, tokens(3), expected_generation=1)
        with pytest.raises(GenerationConflict):
            await store.save(ALICE, tokens(3), expected_generation=7)
        loaded = await store.load(ALICE)
        assert loaded is not None
        assert loaded.tokens.refresh_token == "ory_rt_refresh-2"  # losers changed nothing
        assert await store.save(ALICE, tokens(4), expected_generation=None) == 3
        assert await store.generation(ALICE) == 3
        assert await store.generation(BOB) == 0

    async def test_reauthorization_mark_drops_tokens_unless_generation_moved(
        self, harness: Harness
    ) -> None:
        store = harness.store
        await store.save(ALICE, tokens(1), expected_generation=0, keepalive_at=10.0)
        await store.save(ALICE, tokens(2), expected_generation=1)
        assert not await store.mark_reauthorization_required(
            ALICE, reason="invalid_grant", now=5.0, expected_generation=1
        )
        assert await store.load(ALICE) is not None
        assert await store.reauthorization_mark(ALICE) is None

        assert await store.mark_reauthorization_required(
            ALICE, reason="invalid_grant", now=6.5, expected_generation=2
        )
        assert await store.load(ALICE) is None
        mark = await store.reauthorization_mark(ALICE)
        assert mark is not None
        assert (mark.reason, mark.at) == ("invalid_grant", 6.5)
        assert await store.generation(ALICE) == 3  # waiters watching the generation see it
        assert await store.count() == 0
        assert await store.due_for_keepalive(now=100.0, limit=10) == []

        # A new authorization clears the mark.
        assert await store.save(ALICE, tokens(3), expected_generation=3) == 4
        assert await store.reauthorization_mark(ALICE) is None
        assert await store.count() == 1

    async def test_reason_may_contain_the_separator(self, harness: Harness) -> None:
        store = harness.store
        assert await store.mark_reauthorization_required(
            BOB, reason="a|b", now=1.25, expected_generation=None
        )
        mark = await store.reauthorization_mark(BOB)
        assert mark is not None
        assert (mark.reason, mark.at) == ("a|b", 1.25)

    async def test_refresh_attempt_keeps_first_time_per_fingerprint(self, harness: Harness) -> None:
        store = harness.store
        await store.save(ALICE, tokens(1), expected_generation=0)
        assert await store.refresh_attempt(ALICE) is None
        first = await store.record_refresh_attempt(ALICE, "fp1", 100.0)
        assert (first.fingerprint, first.first_attempt_at) == ("fp1", 100.0)
        again = await store.record_refresh_attempt(ALICE, "fp1", 120.0)
        assert again == first
        assert await store.refresh_attempt(ALICE) == first
        # "fp1" is a prefix of "fp10": must not count as the same token.
        other = await store.record_refresh_attempt(ALICE, "fp10", 130.0)
        assert (other.fingerprint, other.first_attempt_at) == ("fp10", 130.0)

        assert not await store.clear_refresh_attempt(ALICE, "fp1")
        assert await store.clear_refresh_attempt(ALICE, "fp10")
        assert await store.refresh_attempt(ALICE) is None

        await store.record_refresh_attempt(ALICE, "fp2", 140.0)
        await store.save(ALICE, tokens(2), expected_generation=1)
        assert await store.refresh_attempt(ALICE) is None  # a save ends the attempt

    async def test_keepalive_due_ordering_and_limit(self, harness: Harness) -> None:
        store = harness.store
        await store.save(ALICE, tokens(1), expected_generation=0, keepalive_at=30.0)
        await store.save(BOB, tokens(1), expected_generation=0, keepalive_at=10.0)
        await store.save(CAROL, tokens(1), expected_generation=0, keepalive_at=20.0)
        assert await store.due_for_keepalive(now=25.0, limit=10) == [BOB, CAROL]
        assert await store.due_for_keepalive(now=25.0, limit=1) == [BOB]
        assert await store.due_for_keepalive(now=5.0, limit=10) == []
        assert await store.due_for_keepalive(now=25.0, limit=0) == []

        await store.reschedule_keepalive(BOB, 100.0)
        assert await store.due_for_keepalive(now=25.0, limit=10) == [CAROL]
        # A save without keepalive_at keeps the schedule.
        await store.save(BOB, tokens(2), expected_generation=1)
        assert await store.due_for_keepalive(now=99.0, limit=10) == [CAROL, ALICE]
        assert await store.due_for_keepalive(now=100.0, limit=10) == [CAROL, ALICE, BOB]

    async def test_unscheduled_creator_is_due_at_access_token_expiry(
        self, harness: Harness
    ) -> None:
        store = harness.store
        await store.save(ALICE, tokens(1, expires_at=500.0), expected_generation=0)
        assert await store.due_for_keepalive(now=499.0, limit=10) == []
        assert await store.due_for_keepalive(now=500.0, limit=10) == [ALICE]

    async def test_iter_creators_and_count(self, harness: Harness) -> None:
        store = harness.store
        creators = [f"creator-{n:02d}" for n in range(7)]
        for creator in creators:
            await store.save(creator, tokens(1), expected_generation=0)
        assert await store.count() == 7
        seen = [creator async for creator in store.iter_creators(batch=2)]
        assert set(seen) == set(creators)
        await store.mark_reauthorization_required(
            creators[0], reason="invalid_grant", now=1.0, expected_generation=None
        )
        await store.delete(creators[1])
        assert await store.count() == 5
        assert {creator async for creator in store.iter_creators()} == set(creators[2:])

    async def test_delete(self, harness: Harness) -> None:
        store = harness.store
        await store.save(ALICE, tokens(1), expected_generation=0)
        await store.record_refresh_attempt(ALICE, "fp", 1.0)
        await store.save(BOB, tokens(1), expected_generation=0)
        assert await store.delete(ALICE)
        assert await store.load(ALICE) is None
        assert await store.generation(ALICE) == 0
        assert await store.refresh_attempt(ALICE) is None
        assert await store.count() == 1
        assert not await store.delete(ALICE)
        assert await store.load(BOB) is not None

    async def test_key_rotation_old_key_decrypts_new_key_encrypts(self, harness: Harness) -> None:
        store = harness.store
        old = store.keyring
        await store.save(ALICE, tokens(1), expected_generation=0)
        await store.save(BOB, tokens(2), expected_generation=0)
        new_key = key("k2")
        store.keyring = Keyring([harness.first_key, new_key])

        # Bulk path: re-encrypt BOB explicitly; no generation bump; idempotent.
        assert await store.reencrypt(BOB)
        assert not await store.reencrypt(BOB)
        assert await store.generation(BOB) == 1
        assert not await store.reencrypt(CAROL)

        # Lazy path: loading ALICE with an old-key value rewrites it.
        loaded = await store.load(ALICE)
        assert loaded is not None
        assert loaded.tokens.refresh_token == "ory_rt_refresh-1"
        assert loaded.generation == 1

        # Retire the old key: both values must now be under k2.
        store.keyring = Keyring([new_key])
        for creator, n in ((ALICE, 1), (BOB, 2)):
            again = await store.load(creator)
            assert again is not None
            assert again.tokens.refresh_token == f"ory_rt_refresh-{n}"
            assert again.generation == 1
        assert old.current_key_id == "k1"

    async def test_value_copied_to_another_creator_fails_to_decrypt(self, harness: Harness) -> None:
        await harness.store.save(ALICE, tokens(1), expected_generation=0)
        await harness.copy_value(ALICE, BOB)
        with pytest.raises(DecryptionError):
            await harness.store.load(BOB)
        assert await harness.store.load(ALICE) is not None

    async def test_unknown_key_id_is_a_decryption_error(self, harness: Harness) -> None:
        store = harness.store
        await store.save(ALICE, tokens(1), expected_generation=0)
        store.keyring = Keyring([key("other")])
        with pytest.raises(DecryptionError, match="'k1'"):
            await store.load(ALICE)
        with pytest.raises(DecryptionError):
            await store.reencrypt(ALICE)

    async def test_locks_exclude_per_creator(self, harness: Harness) -> None:
        store = harness.store
        first = store.lock(ALICE, ttl=5.0)
        second = store.lock(ALICE, ttl=5.0)
        other = store.lock(BOB, ttl=5.0)
        assert await first.acquire(blocking=False)
        assert not await second.acquire(blocking=False)
        assert await other.acquire(blocking=False)
        assert await first.release()
        assert await second.acquire(blocking=False)
        assert await second.release()
        assert await other.release()

    @pytest.mark.parametrize("creator", ["", "a}b", "a{b", "has space", "x" * 129])
    async def test_rejects_creator_ids_that_could_break_keys(
        self, harness: Harness, creator: str
    ) -> None:
        with pytest.raises(ValueError, match="creator id"):
            await harness.store.save(creator, tokens(1), expected_generation=None)
        with pytest.raises(ValueError, match="creator id"):
            await harness.store.load(creator)
