"""The client reaches every one of Fanvue's operations through ``call()``, against the emulator.

The valid values and ids for each operation come from the emulator's own samples
(``tests/emulator_samples.py``: ids found through the API, Luna an agency managing Max); the
call itself goes through ``FanvueClient.call`` — path parameters as a mapping, query and body as
Python values — so the client's spec checks, encoding and decoding are what is under test.
Each answer must be the documented success, decoded as documented: ``None`` for 204, text for
``text/plain``, JSON otherwise; the emulator's counters must show the call under its template.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fanvue_embedded._http import shared_tls_context
from fanvue_embedded.client import FanvueClient
from fanvue_embedded.spec import Operation, load_spec
from tests.emulator_samples import Ids, World, body_for, path_values, query_values
from tests.support.emulator import EmulatorHandle

pytestmark = pytest.mark.anyio
OPERATIONS = list(load_spec())


@pytest.fixture
def control(emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    with httpx.Client(
        verify=shared_tls_context(), base_url=emulator.base_url, timeout=10
    ) as client:
        yield client


def test_every_operation_is_covered() -> None:
    assert len(OPERATIONS) == 143


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
async def test_operation_through_call(
    emulator: EmulatorHandle, control: httpx.Client, operation: Operation
) -> None:
    world = World(control)
    mirror = "{creatorUserUuid}" in operation.path
    ids = Ids(world, f"/creators/{world.max}" if mirror else "")
    path = path_values(operation, ids, world)
    params = query_values(operation, ids, world)
    body = body_for(operation, ids, world)
    before = emulator.counters()["calls"].get(f"{operation.method} {operation.path}", 0)
    async with FanvueClient(world.token, api_base_url=emulator.base_url) as api:
        result = await api.call(operation.operation_id, path=path, params=params, json=body)
    if operation.response.status == 204:
        assert result is None
    elif operation.response.content_type == "text/plain":
        assert isinstance(result, str)
        assert result.startswith("http")
    else:
        assert isinstance(result, dict | list)
        assert result or operation.response.body_type is not None
    after = emulator.counters()["calls"].get(f"{operation.method} {operation.path}", 0)
    assert after == before + 1
