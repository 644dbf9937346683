"""A webhook endpoint on a real socket that records what it receives (tests of the emulator's
sender): each request's raw body and headers, answered with the next queued status (then 200)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.servers import serve_in_thread


@dataclass
class Received:
    path: str
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Sink:
    base_url: str
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"{self.base_url}{path}"

    def at(self, path: str = "/hook") -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, path: str = "/hook", timeout: float = 30) -> list[Received]:
        """The first ``count`` requests to ``path`` (fails when fewer arrive in time)."""
        deadline = time.monotonic() + timeout
        while len(self.at(path)) < count:
            assert time.monotonic() < deadline, f"{len(self.at(path))} of {count} requests"
            time.sleep(0.02)
        return self.at(path)[:count]


@contextlib.contextmanager
def webhook_sink() -> Iterator[Sink]:
    sink = Sink(base_url="")

    async def receive(request: Request) -> Response:
        body = await request.body()
        with sink.lock:
            sink.received.append(Received(request.url.path, body, dict(request.headers)))
            status = sink.statuses.pop(0) if sink.statuses else 200
        return Response(status_code=status)

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    with serve_in_thread(app) as base_url:
        sink.base_url = base_url
        yield sink
