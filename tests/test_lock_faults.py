"""The Redis lock when Redis fails mid-release: the owner token survives the failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from fanvue_embedded._redis import redis_from_url
from fanvue_embedded.errors import StoreUnavailable
from fanvue_embedded.lock import RedisCreatorLock
from tests.support.redis_server import run_redis_server

KEY = "fve:{creator-1}:l"


@pytest.mark.anyio
async def test_release_failing_on_redis_keeps_ownership_for_a_retry(tmp_path: Path) -> None:
    workdir = str(tmp_path)
    with run_redis_server(appendonly=True, directory=workdir) as (url, _proc):
        client = redis_from_url(url)
        lock = RedisCreatorLock(client, KEY, 600.0)
        assert await lock.acquire(blocking=False)
    # The server is gone (shut down cleanly: the lock key is in its append-only file).
    try:
        with pytest.raises(StoreUnavailable):
            await lock.release()
        assert lock.owned, "a release Redis never confirmed must not forget the owner token"
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        with run_redis_server(appendonly=True, directory=workdir, port=port):
            assert await client.get(KEY) is not None, "the restarted server lost the lock key"
            assert await lock.extend(), "the lock can still be extended after the failure"
            assert await lock.release()
            assert not lock.owned
            assert await client.get(KEY) is None
    finally:
        await client.aclose()
