"""Security suite: fuzzing every documented route, creator isolation, session tampering.

The app runs against the emulator with the Redis store. Log and Redis leak scans over the
whole run live in ``tests/conftest.py`` (``security_scans``, ``scan_for_plaintext``); their figures and the fuzz
figures below are printed at the end of every run.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import string
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, BaseSchema, GenerationMode
from schemathesis.core.result import Ok
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fanvue_embedded._devdefaults import DEV_SESSION_SECRET
from fanvue_embedded.app import CreatorContext, authenticated, create_app
from fanvue_embedded.config import parse_encryption_keys
from fanvue_embedded.crypto import Keyring, generate_key
from fanvue_embedded.ephemeral import RedisEphemeralStore
from fanvue_embedded.store import RedisTokenStore, TokenStore
from tests.support.emulator import EmulatorHandle
from tests.support.errors import error_code
from tests.support.leaks import FIGURES, LogCapture, find_leaks
from tests.support.redis_scan import find_plaintext_tokens
from tests.support.redis_topology import sync_client
from tests.support.servers import serve_in_thread
from tests.test_app import settings_for

FUZZ_EXAMPLES = 60  # per operation and run: bounded so the whole fuzz stays well under a minute
SECURED = {"/api/me", "/api/fanvue/logout"}


def redis_app(
    emulator: EmulatorHandle, redis_url: str, *, failure_limit: int = 20, **kwargs: Any
) -> Starlette:
    """The app on the emulator with Redis token and session stores, as production runs it.

    The stores are built here (each owning its Redis client) so that the app's ``aclose``
    closes every connection.
    """
    keyring = Keyring(parse_encryption_keys(generate_key("k1")))
    return create_app(
        settings_for(emulator, exchange_failure_limit=failure_limit),
        store=RedisTokenStore.from_url(redis_url, keyring),
        ephemeral=RedisEphemeralStore.from_url(redis_url),
        **kwargs,
    )


# --- the OpenAPI description ------------------------------------------------------------------


def test_openapi_describes_every_served_route(emulator: EmulatorHandle, redis_url: str) -> None:
    app = redis_app(emulator, redis_url)
    with serve_in_thread(app) as base_url:
        document = httpx.get(f"{base_url}/openapi.json").json()
    assert document["openapi"].startswith("3.0")
    paths = document["paths"]
    for path in (
        "/embedded",
        "/api/fanvue/session",
        "/api/fanvue/logout",
        "/api/me",
        "/oauth/login",
        "/oauth/callback",
        "/healthz",
        "/readyz",
        "/metrics",
    ):
        assert path in paths, path
    # Only what the app routes is advertised (webhooks appear once create_app mounts them).
    assert "/webhooks/fanvue" not in paths
    assert document["components"]["securitySchemes"]["bearerSession"]["scheme"] == "bearer"
    assert paths["/api/me"]["get"]["security"] == [{"bearerSession": []}]
    body = paths["/api/fanvue/session"]["post"]["requestBody"]
    assert body["required"] is True
    assert "application/json" in body["content"]
    # schemathesis accepts it as a valid OpenAPI document with one operation per route.
    schema = schemathesis.openapi.from_dict(document)
    operations = operations_of(schema)
    assert {op.path for op in operations} == set(paths)


# --- property-based fuzzing: zero 5xx --------------------------------------------------------


@dataclass
class FuzzRun:
    base_url: str
    emulator: EmulatorHandle
    http: requests.Session = field(default_factory=requests.Session)
    session: str | None = None
    inputs: int = 0
    server_errors: list[str] = field(default_factory=list)
    bad_error_bodies: list[str] = field(default_factory=list)
    statuses: Counter[tuple[str, bool, int]] = field(default_factory=Counter)

    def new_session(self) -> str:
        response = self.http.post(
            f"{self.base_url}/api/fanvue/session",
            json={"token": self.emulator.session_token()},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        self.session = str(response.json()["session"])
        return self.session

    def send(self, case: Any, bearer: bool) -> None:
        headers = {"Authorization": f"Bearer {self.session}"} if bearer else None
        try:
            response = case.call(base_url=self.base_url, session=self.http, headers=headers)
        except (requests.exceptions.InvalidHeader, UnicodeEncodeError, ValueError):
            return  # the client refused to send it: nothing reached the app, nothing counted
        self.inputs += 1
        self.statuses[(case.path, bearer, response.status_code)] += 1
        where = f"{case.method} {case.path} -> {response.status_code}"
        if response.status_code >= 500:
            self.server_errors.append(where)
        elif response.status_code >= 400 and not _is_error_body(response.content):
            self.bad_error_bodies.append(where)
        if bearer and case.path == "/api/fanvue/logout" and response.status_code == 200:
            self.new_session()  # keep later authenticated inputs authenticated


def _is_error_body(content: bytes) -> bool:
    """A 4xx answer is ``{"error": <code>}`` JSON — never a traceback or an HTML page."""
    try:
        body = json.loads(content)
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def operations_of(schema: BaseSchema) -> list[APIOperation[Any, Any, Any, Any]]:
    """Every operation of ``schema``; an operation schemathesis cannot read fails the test."""
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    return operations


def _fuzz_operation(run: FuzzRun, operation: Any, mode: GenerationMode, bearer: bool) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the work tree
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        run.send(case, bearer)

    try:
        fuzz()
    except Unsatisfiable:
        # Negative mode on an operation without parameters or body: nothing can be invalid.
        assert mode is GenerationMode.NEGATIVE


def test_fuzz_every_route_without_server_errors(emulator: EmulatorHandle, redis_url: str) -> None:
    emulator.settings(rate_limit=1_000_000)  # the fuzz is one creator hammering /api/me
    # Hundreds of junk tokens from one address: lift the failed-exchange limit (tested in
    # test_app_hardening.py) so the sessions minted below still get through.
    app = redis_app(emulator, redis_url, failure_limit=1_000_000)
    with serve_in_thread(app) as base_url:
        run = FuzzRun(base_url=base_url, emulator=emulator)
        try:
            creator_session = run.new_session()
            schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
            operations = operations_of(schema)
            assert len(operations) >= 9  # every route but /openapi.json itself
            for operation in operations:
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    _fuzz_operation(run, operation, mode, bearer=False)
                    if operation.path in SECURED:
                        _fuzz_operation(run, operation, mode, bearer=True)
            # The fuzz never touched the creator's tokens: a fresh session still works.
            me = run.http.get(
                f"{base_url}/api/me",
                headers={"Authorization": f"Bearer {run.new_session()}"},
                timeout=30,
            )
            assert me.status_code == 200
            assert me.json()["handle"] == "luna.rivers"
            assert creator_session  # sessions were minted for the authenticated runs
        finally:
            run.http.close()
            FIGURES.record_fuzz(run.inputs, len(run.server_errors))
    print(f"security: fuzz inputs={run.inputs} 5xx={len(run.server_errors)}")
    assert run.inputs >= len(operations) * FUZZ_EXAMPLES
    assert run.server_errors == []
    assert run.bad_error_bodies == []
    # Both sides of the session check were exercised: the valid bearer got through, and
    # anonymous or mangled ones did not.
    assert run.statuses[("/api/me", True, 200)] > 0
    assert run.statuses[("/api/me", False, 401)] > 0
    assert run.statuses[("/api/fanvue/session", False, 401)] > 0
    assert find_plaintext_tokens(redis_url) == []


# --- cross-creator isolation ------------------------------------------------------------------


@authenticated
async def whoami(request: Request, ctx: CreatorContext) -> Response:
    user = await ctx.api.get_current_user()
    return JSONResponse({"context": ctx.creator, "fanvue": user.uuid})


@dataclass
class Creator:
    handle: str
    uuid: str
    session: str = ""

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.session}"}


@dataclass
class IsolationApp:
    client: httpx.AsyncClient
    store: TokenStore


@pytest.fixture
async def isolation_app(emulator: EmulatorHandle, redis_url: str) -> AsyncIterator[IsolationApp]:
    app = redis_app(emulator, redis_url, routes=[Route("/api/whoami", whoami)])
    # raise_app_exceptions=False: a crash must show up as the 500 a browser would get.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="https://app.test")
    try:
        yield IsolationApp(client, app.state.fanvue.store)
    finally:
        await client.aclose()
        await app.state.fanvue.aclose()


async def _creator_with_session(
    emulator: EmulatorHandle, client: httpx.AsyncClient, handle: str
) -> Creator:
    created = emulator.control(
        "POST", "/creators", json={"handle": handle, "displayName": handle, "consent": True}
    )
    creator = Creator(handle=handle, uuid=created["uuid"])
    response = await client.post(
        "/api/fanvue/session", json={"token": emulator.session_token(handle)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["creator"]["uuid"] == creator.uuid
    creator.session = response.json()["session"]
    return creator


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _payload(token: str) -> dict[str, Any]:
    body = token.partition(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return decoded


def _sign(payload: dict[str, Any], secret: str = DEV_SESSION_SECRET) -> str:
    """Sign as the server does (README: ``<base64 JSON>.<HMAC-SHA256>``, key from the secret).

    This is what someone holding ``SESSION_SECRET`` could mint; the server-side record must
    still refuse any mix of one creator's session id with another creator.
    """
    key = hmac.new(secret.encode(), b"fanvue-embedded/session/v1", "sha256").digest()
    body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.anyio
async def test_creators_are_isolated(
    emulator: EmulatorHandle, redis_url: str, isolation_app: IsolationApp
) -> None:
    client = isolation_app.client
    alice = await _creator_with_session(emulator, client, "alice.iso")
    bob = await _creator_with_session(emulator, client, "bob.iso")
    assert alice.uuid != bob.uuid

    # Each session reads its own creator, through our context and through Fanvue.
    for creator in (alice, bob):
        me = await client.get("/api/me", headers=creator.auth)
        assert me.status_code == 200
        assert (me.json()["uuid"], me.json()["handle"]) == (creator.uuid, creator.handle)
        who = await client.get("/api/whoami", headers=creator.auth)
        assert who.json() == {"context": creator.uuid, "fanvue": creator.uuid}

    # Re-signing Alice's own payload reproduces a working token (so the forgeries below are
    # refused for what they claim, not because the signing helper is wrong).
    alice_payload = _payload(alice.session)
    assert (await client.get("/api/me", headers=_bearer(_sign(alice_payload)))).status_code == 200

    # Forging the subject without the key: the signature no longer matches.
    _, _, signature = alice.session.partition(".")
    forged_body = _b64(json.dumps({**alice_payload, "sub": bob.uuid}).encode())
    forged = await client.get("/api/me", headers=_bearer(f"{forged_body}.{signature}"))
    assert forged.status_code == 401
    # Signed with another secret: refused.
    other_key = await client.get(
        "/api/me", headers=_bearer(_sign({**alice_payload, "sub": bob.uuid}, "x" * 40))
    )
    assert other_key.status_code == 401
    # Validly signed, but Alice's session id with Bob as subject (and the reverse): the
    # server-side record names the creator, so neither authenticates.
    bob_payload = _payload(bob.session)
    for mixed in (
        {**alice_payload, "sub": bob.uuid},
        {**bob_payload, "sub": alice.uuid},
    ):
        response = await client.get("/api/whoami", headers=_bearer(_sign(mixed)))
        assert response.status_code == 401
        assert error_code(response) == "invalid_session"

    # Logging Alice out ends only Alice's session; both token sets stay stored.
    store = isolation_app.store
    assert (await client.post("/api/fanvue/logout", headers=alice.auth)).status_code == 200
    assert (await client.get("/api/me", headers=alice.auth)).status_code == 401
    assert (await client.post("/api/fanvue/logout", headers=alice.auth)).status_code == 401
    bob_me = await client.get("/api/me", headers=bob.auth)
    assert bob_me.status_code == 200
    assert bob_me.json()["uuid"] == bob.uuid
    assert await store.load(alice.uuid) is not None
    assert await store.load(bob.uuid) is not None

    # Bob losing his Fanvue chain does not touch Alice (new session) or leak her tokens to him.
    emulator.control("DELETE", f"/creators/{bob.uuid}/consent")
    emulator.control("POST", f"/creators/{bob.uuid}/expire-access-tokens")
    bob_after = await client.get("/api/me", headers=bob.auth)
    assert bob_after.status_code == 401
    assert error_code(bob_after) == "reauthorization_required"
    alice = await _creator_with_session(emulator, client, "alice.iso2")
    assert (await client.get("/api/me", headers=alice.auth)).json()["uuid"] == alice.uuid
    assert find_plaintext_tokens(redis_url) == []


@pytest.mark.anyio
async def test_token_set_copied_to_another_creator_is_never_served(
    emulator: EmulatorHandle, redis_url: str, isolation_app: IsolationApp
) -> None:
    client = isolation_app.client
    alice = await _creator_with_session(emulator, client, "alice.copy")
    bob = await _creator_with_session(emulator, client, "bob.copy")
    raw = sync_client(redis_url)
    try:
        # Someone with Redis write access pastes Alice's encrypted tokens under Bob.
        alice_value = raw.hget(f"fve:{{{alice.uuid}}}:t", "v")
        assert alice_value is not None
        raw.hset(f"fve:{{{bob.uuid}}}:t", "v", alice_value)
    finally:
        raw.close()
    response = await client.get("/api/me", headers=bob.auth)
    # The ciphertext is bound to Alice: Bob's request must not act as Alice.
    # DecryptionError: the error table's 503 service_unavailable; the stored value is untouched.
    assert response.status_code == 503
    assert error_code(response) == "service_unavailable"
    assert alice.uuid not in response.text
    assert alice.handle not in response.text
    still = await client.get("/api/me", headers=alice.auth)
    assert still.json()["uuid"] == alice.uuid


# --- tampered and expired app sessions --------------------------------------------------------

TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_.=+/!~ "


@st.composite
def mutations(draw: st.DrawFn, token: str) -> str:
    """A random edit of ``token``: flips, inserts, deletes, truncation, re-ordering."""
    kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "swap", "append"]))
    chars = st.sampled_from(TOKEN_ALPHABET)
    index = draw(st.integers(min_value=0, max_value=len(token) - 1))
    if kind == "replace":
        return token[:index] + draw(chars) + token[index + 1 :]
    if kind == "insert":
        return token[:index] + draw(st.text(chars, min_size=1, max_size=4)) + token[index:]
    if kind == "delete":
        length = draw(st.integers(min_value=1, max_value=8))
        return token[:index] + token[index + length :]
    if kind == "truncate":
        return token[:index]
    if kind == "swap":
        body, _, signature = token.partition(".")
        return f"{signature}.{body}"
    return token + draw(st.text(chars, min_size=1, max_size=8))


def _signed_content(token: str) -> tuple[str, bytes] | None:
    """What the signature covers and the signature bytes, as a lenient decoder reads them."""
    body, sep, signature = token.partition(".")
    if not sep:
        return None
    try:
        return body, base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except ValueError:
        return None


@pytest.fixture
def served_session(emulator: EmulatorHandle, redis_url: str) -> Iterator[tuple[str, str]]:
    """``(base URL, a valid app session)`` for the app on a real socket."""
    app = redis_app(emulator, redis_url)
    with serve_in_thread(app) as base_url:
        response = httpx.post(
            f"{base_url}/api/fanvue/session", json={"token": emulator.session_token()}
        )
        assert response.status_code == 200
        yield base_url, response.json()["session"]


def test_mutated_sessions_never_authenticate_as_anything_else(
    served_session: tuple[str, str],
) -> None:
    base_url, token = served_session
    original = _signed_content(token)
    tried: list[int] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        assert client.get("/api/me", headers=_bearer(token)).status_code == 200

        @given(mutated=mutations(token))
        @settings(max_examples=150, deadline=None, database=None, phases=[Phase.generate])
        def check(mutated: str) -> None:
            if mutated == token:
                return
            try:
                response = client.get("/api/me", headers={"Authorization": f"Bearer {mutated}"})
            except httpx.LocalProtocolError:
                return  # not a valid header value: the client never sent it
            tried.append(response.status_code)
            if response.status_code == 200:
                # Only a re-spelling of the very same signed content may pass (see the
                # strict test below); never a different payload or signature.
                assert _signed_content(mutated) == original
            else:
                assert response.status_code == 401
                assert error_code(response) == "invalid_session"

        check()
    assert len(tried) >= 100


def test_session_signature_has_one_spelling(served_session: tuple[str, str]) -> None:
    base_url, token = served_session
    body, _, signature = token.partition(".")
    variants = [
        f"{body}.{signature[:5]}!{signature[5:]}",  # a stray character
        f"{body}.{signature}=",  # padding
        f"{body}.{signature.replace('-', '+').replace('_', '/')}",  # the other alphabet
    ]
    # A signature without '-' or '_' has no other-alphabet spelling: drop the identical variant.
    variants = [variant for variant in variants if variant != token]
    with httpx.Client(base_url=base_url, timeout=30) as client:
        statuses = [client.get("/api/me", headers=_bearer(v)).status_code for v in variants]
    assert statuses == [401] * len(variants)


def test_expired_and_logged_out_sessions_are_rejected(
    emulator: EmulatorHandle, redis_url: str
) -> None:
    app = redis_app(emulator, redis_url)
    with serve_in_thread(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        token = client.post("/api/fanvue/session", json={"token": emulator.session_token()}).json()[
            "session"
        ]
        payload = _payload(token)
        expired = _sign({**payload, "exp": payload["iat"] - 1})
        assert client.get("/api/me", headers=_bearer(expired)).status_code == 401
        assert client.get("/api/me", headers=_bearer(_sign(payload))).status_code == 200
        assert client.post("/api/fanvue/logout", headers=_bearer(token)).status_code == 200
        # After logout no spelling of the session works, even a validly re-signed one.
        for again in (token, _sign(payload), _sign({**payload, "exp": payload["exp"] + 3600})):
            response = client.get("/api/me", headers=_bearer(again))
            assert response.status_code == 401
            assert error_code(response) == "invalid_session"


# --- the leak detectors themselves --------------------------------------------------------------


def test_leak_finder_flags_every_secret_shape_and_nothing_else() -> None:
    from fanvue_embedded._devdefaults import DEV_CLIENT_SECRET

    lines = [
        "INFO app: exchanged a session for a creator",  # 1 clean
        f"DEBUG oauth: basic auth with {DEV_CLIENT_SECRET}",  # 2
        f"WARNING sessions: key from {DEV_SESSION_SECRET}",  # 3
        "INFO refresh ory_rt_AbC-123 rotated",  # 4
        "INFO code ory_ac_ZZZ9 exchanged",  # 5
        "INFO GET /embedded?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",  # 6
        "INFO GET /embedded?theme=dark&token=eyJsecret",  # 7 no dot: not a token shape
        f"  registered app: client id x, secret {DEV_CLIENT_SECRET!r} (dev only)",  # 8 banner
        "INFO httpx: HTTP Request: GET https://a.test/oauth/callback?code=ory_ac_Q&state=s",  # 9
        'INFO uvicorn.access: "GET /oauth/callback?code=ory_ac_Q&state=s HTTP/1.1" 400',  # 10
    ]
    found = {(leak.line, leak.kind) for leak in find_leaks(lines, source="sample")}
    assert found == {
        (2, "client_secret"),
        (3, "session_secret"),
        (4, "refresh_token"),
        (5, "authorization_code"),
        (6, "jwt_like"),
        (10, "authorization_code"),  # a server access log of the callback is a leak
    }
    assert all("ory_" not in str(leak) for leak in find_leaks(lines))  # places, not values


def test_log_capture_sees_records_of_any_logger_with_arguments_and_tracebacks() -> None:
    capture = LogCapture()
    logger = logging.getLogger("fanvue_embedded.security-test")
    logger.addHandler(capture)
    logger.propagate = False  # these planted values must not reach the session-wide scan
    try:
        logger.warning("refreshing with %s", "ory_rt_from-args")
        try:
            raise ValueError("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(capture)
        logger.propagate = True
    kinds = {leak.kind for leak in find_leaks(capture.lines())}
    assert kinds == {"refresh_token", "jwt_like"}
