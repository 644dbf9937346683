"""fanvue_embedded.sessions: app sessions are signed, expire, slide, end at logout, and refuse
every altered spelling. Time is an injected clock; the records live in real Redis (and in the
in-memory store, whose expiry follows the same clock)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from fanvue_embedded.config import Secret
from fanvue_embedded.ephemeral import EphemeralStore, MemoryEphemeralStore, RedisEphemeralStore
from fanvue_embedded.errors import AppSessionError
from fanvue_embedded.sessions import AppSessionManager
from tests.support.redis_topology import redis_url_for

pytestmark = pytest.mark.anyio

SECRET = "a-session-secret-of-at-least-32-characters"
CREATOR = "0b6f6a8e-3c1d-4c55-8f0e-5f2d9a7b1c3e"
TTL = 900.0
MAX_AGE = 3600.0


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    sessions: AppSessionManager
    store: EphemeralStore
    clock: Clock


@pytest.fixture(params=["memory", "redis"])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    clock = Clock()
    store: EphemeralStore
    if request.param == "memory":
        store = MemoryEphemeralStore(clock=clock)
    else:
        store = RedisEphemeralStore.from_url(redis_url_for(request, "redis"))
    sessions = AppSessionManager(
        secret=Secret(SECRET), store=store, ttl=TTL, max_age=MAX_AGE, clock=clock
    )
    try:
        yield Harness(sessions, store, clock)
    finally:
        await store.aclose()


async def test_issue_then_verify(harness: Harness) -> None:
    issued = await harness.sessions.issue(CREATOR)
    session = await harness.sessions.verify(issued.token)
    assert session.creator == issued.creator == CREATOR
    assert session.session_id == issued.session_id
    assert session.expires_at == issued.expires_at == harness.clock.now + TTL
    assert session.renewed is None
    # The token and its CSRF token stay out of reprs (they end up in logs).
    assert issued.token not in repr(issued)
    assert issued.csrf_token not in repr(issued)
    assert SECRET not in repr(harness.sessions)


async def test_every_session_is_distinct(harness: Harness) -> None:
    one = await harness.sessions.issue(CREATOR)
    two = await harness.sessions.issue(CREATOR)
    assert one.session_id != two.session_id
    assert one.token != two.token
    assert one.csrf_token != two.csrf_token


async def test_expiry(harness: Harness) -> None:
    issued = await harness.sessions.issue(CREATOR)
    harness.clock.now += TTL
    with pytest.raises(AppSessionError, match="expired"):
        await harness.sessions.verify(issued.token)


async def test_renewal_slides_past_half_life_up_to_max_age(harness: Harness) -> None:
    issued = await harness.sessions.issue(CREATOR)
    started = harness.clock.now
    harness.clock.now += TTL / 2 - 1
    assert (await harness.sessions.verify(issued.token)).renewed is None  # not yet
    harness.clock.now += 2
    session = await harness.sessions.verify(issued.token)
    renewed = session.renewed
    assert renewed is not None
    assert renewed.session_id == issued.session_id
    assert renewed.expires_at == session.expires_at == harness.clock.now + TTL
    # The new token outlives the old one.
    harness.clock.now = issued.expires_at + 1
    with pytest.raises(AppSessionError, match="expired"):
        await harness.sessions.verify(issued.token)
    assert (await harness.sessions.verify(renewed.token)).creator == CREATOR
    # Renewal never goes past max_age from the sign-in.
    latest = renewed
    while harness.clock.now < started + MAX_AGE - TTL / 2:
        harness.clock.now = latest.expires_at - 1
        next_session = await harness.sessions.verify(latest.token)
        if next_session.renewed is not None:
            latest = next_session.renewed
    assert latest.expires_at == started + MAX_AGE
    harness.clock.now = started + MAX_AGE
    with pytest.raises(AppSessionError, match="expired"):
        await harness.sessions.verify(latest.token)


async def test_logout_ends_every_token_of_the_session(harness: Harness) -> None:
    issued = await harness.sessions.issue(CREATOR)
    other = await harness.sessions.issue(CREATOR)
    assert await harness.sessions.end(issued.session_id) is True
    assert await harness.sessions.end(issued.session_id) is False
    with pytest.raises(AppSessionError, match="ended"):
        await harness.sessions.verify(issued.token)
    assert (await harness.sessions.verify(other.token)).session_id == other.session_id


async def test_a_record_for_another_creator_is_refused(harness: Harness) -> None:
    issued = await harness.sessions.issue(CREATOR)
    record = json.dumps({"c": "someone-else", "s": harness.clock.now}).encode()
    await harness.store.put(f"session:{issued.session_id}", record, TTL)
    with pytest.raises(AppSessionError, match="does not match"):
        await harness.sessions.verify(issued.token)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_altered_tokens_are_refused(harness: Harness) -> None:
    issued = await harness.sessions.issue(CREATOR)
    body, _, signature = issued.token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    longer = b64(json.dumps({**payload, "exp": payload["exp"] + 10**6}).encode())
    altered = {
        "other creator": b64(json.dumps({**payload, "sub": "x"}).encode()) + "." + signature,
        "longer life": f"{longer}.{signature}",
        "padded signature": f"{body}.{signature}=",
        "trailing junk": f"{body}.{signature}x",
        "no signature": f"{body}.",
        "no separator": body,
        "empty": "",
        "oversized": issued.token + "A" * 1024,
        "non-ASCII": f"{body}é.{signature}",
    }
    standard = signature.replace("-", "+").replace("_", "/")
    if standard != signature:  # the same bytes in standard base64: not the canonical form
        altered["standard base64"] = f"{body}.{standard}"
    accepted = []
    for name, token in altered.items():
        try:
            await harness.sessions.verify(token)
        except AppSessionError:
            continue
        accepted.append(name)
    assert accepted == []
    assert (await harness.sessions.verify(issued.token)).creator == CREATOR


async def test_another_secret_signs_differently(harness: Harness) -> None:
    issued = await harness.sessions.issue(CREATOR)
    other = AppSessionManager(secret="another-secret-of-at-least-32-chars!", store=harness.store)
    with pytest.raises(AppSessionError, match="signature"):
        await other.verify(issued.token)
    assert other.csrf_token_for(issued.session_id) != issued.csrf_token


async def test_csrf_tokens_are_bound_to_their_session(harness: Harness) -> None:
    one = await harness.sessions.issue(CREATOR)
    two = await harness.sessions.issue(CREATOR)
    assert harness.sessions.check_csrf(one.session_id, one.csrf_token)
    assert not harness.sessions.check_csrf(one.session_id, two.csrf_token)
    assert not harness.sessions.check_csrf(one.session_id, None)
    assert not harness.sessions.check_csrf(one.session_id, "")


async def test_bad_settings_and_arguments_are_refused() -> None:
    store = MemoryEphemeralStore()
    with pytest.raises(ValueError, match="at least 32"):
        AppSessionManager(secret="short", store=store)
    with pytest.raises(ValueError, match="ttl"):
        AppSessionManager(secret=SECRET, store=store, ttl=0)
    with pytest.raises(ValueError, match="max_age"):
        AppSessionManager(secret=SECRET, store=store, ttl=100, max_age=50)
    with pytest.raises(ValueError, match="creator is empty"):
        await AppSessionManager(secret=SECRET, store=store).issue("")
