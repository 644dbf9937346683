"""Contract: for every operation of Fanvue's published spec, the emulator answers as documented.

Real socket (uvicorn in a thread), raw httpx. For each of the 143 operations: the documented
success status with every required field (dotted paths walked, list items checked against
``itemFields``, types, enums and formats checked), then each documented error status the
emulator can produce, with the documented body.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

import httpx
import pytest

from fanvue_embedded._http import shared_tls_context
from fanvue_embedded.emulator import EmulatorConfig, create_emulator_app
from fanvue_embedded.spec import Operation, load_spec
from tests.emulator_samples import ALL_SCOPES, World, access_token, control, request_for
from tests.emulator_spec_check import response_problems
from tests.support.servers import serve_in_thread

SPEC = load_spec()
OPERATIONS = list(SPEC)
BAD_UUID = "not-a-uuid"
UNKNOWN_UUID = "00000000-0000-4000-8000-00000000dead"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_in_thread(create_emulator_app(EmulatorConfig())) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(verify=shared_tls_context(), base_url=base_url, timeout=10) as c:
        yield c


def _call(world: World, operation: Operation) -> httpx.Response:
    path, query, body = request_for(operation, world)
    return world.client.request(
        operation.method, path, params=query, json=body, headers=world.headers
    )


def test_every_operation_has_a_sample() -> None:
    assert len(OPERATIONS) == 143


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_success_matches_the_spec(client: httpx.Client, operation: Operation) -> None:
    world = World(client)
    response = _call(world, operation)
    assert response.status_code == operation.response.status, response.text
    for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
        assert header in response.headers
    if operation.response.status == 204:
        assert response.content == b""
        return
    if operation.response.content_type == "text/plain":
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text.startswith("http")
        return
    assert response.headers["content-type"].startswith("application/json")
    assert response_problems(operation, response.json()) == []


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_version_auth_and_scope_errors(client: httpx.Client, operation: Operation) -> None:
    world = World(client)
    path, _query, _body = request_for(operation, world)
    missing = {"Authorization": world.headers["Authorization"]}
    response = client.request(operation.method, path, headers=missing)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "message"}
    assert all(isinstance(value, str) for value in body.values())
    retired = {**missing, "X-Fanvue-API-Version": "2024-01-01"}
    response = client.request(operation.method, path, headers=retired)
    assert response.status_code == 410
    assert set(response.json()) == {"error", "message", "nextVersion"}
    assert response.json()["nextVersion"] == "2025-06-26"
    bad = {"X-Fanvue-API-Version": "2025-06-26", "Authorization": "Bearer nope"}
    response = client.request(operation.method, path, headers=bad)
    assert response.status_code == 401
    assert list(response.json()) == ["error"]
    # A token without one of the operation's scopes: 403 {error}.
    dropped = operation.scopes[-1]
    control(client, "PATCH", "/app", json={"scopes": [s for s in ALL_SCOPES if s != dropped]})
    narrow = access_token(client)
    headers = {"X-Fanvue-API-Version": "2025-06-26", "Authorization": f"Bearer {narrow}"}
    response = client.request(operation.method, path, headers=headers)
    assert response.status_code == 403
    assert list(response.json()) == ["error"]
    assert dropped in response.json()["error"]


UUID_PATH_OPERATIONS = [
    op
    for op in OPERATIONS
    if any(p.format == "uuid" and p.name != "creatorUserUuid" for p in op.path_params)
]


@pytest.mark.parametrize("operation", UUID_PATH_OPERATIONS, ids=lambda op: op.operation_id)
def test_bad_and_unknown_path_ids(client: httpx.Client, operation: Operation) -> None:
    world = World(client)
    path, query, body = request_for(operation, world)
    param = next(
        p for p in operation.path_params if p.format == "uuid" and p.name != "creatorUserUuid"
    )
    found = operation.match(operation.method, path)
    assert found is not None
    values = {name: unquote(value) for name, value in found.items()}
    for replacement, status in ((BAD_UUID, 400), (UNKNOWN_UUID, 404)):
        if status not in operation.errors:
            continue
        target = operation.expand_path({**values, param.name: replacement})
        response = world.client.request(
            operation.method, target, params=query, json=body, headers=world.headers
        )
        assert response.status_code == status, (target, response.text)
        assert list(response.json()) == ["message"], response.text


def test_rate_limit_error(client: httpx.Client) -> None:
    world = World(client)
    control(client, "PATCH", "/settings", json={"rate_limit": 1})
    assert world.api("GET", "/users/me").status_code == 200
    response = world.api("GET", "/users/me")
    assert response.status_code == 429
    assert list(response.json()) == ["error"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Remaining"] == "0"
