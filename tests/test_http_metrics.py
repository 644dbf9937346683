"""HTTP and process metrics, and ``serve --workers 2`` summing every worker's counters.

The multiprocess test runs the real ``fanvue-embedded serve`` with two uvicorn workers: every
scrape, whichever worker answers it, shows the totals of both, and they only ever grow.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from fanvue_embedded.app import create_app
from fanvue_embedded.cli import dev_environment
from tests.support.emulator import EmulatorHandle
from tests.support.hosts import host_settings
from tests.support.servers import free_port, spawn

SCRAPES = 20
REQUESTS_PER_SCRAPE = 3


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called ``name`` in a Prometheus text exposition, by sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def requests_to(text: str, route: str, status: str = "200") -> float:
    return sum(
        value
        for labels, value in samples(text, "http_requests_total").items()
        if dict(labels).get("route") == route and dict(labels).get("status") == status
    )


@pytest.mark.anyio
async def test_requests_are_counted_by_route_template_with_process_metrics(
    emulator: EmulatorHandle,
) -> None:
    app = create_app(host_settings(emulator.base_url, app_url="http://app.test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as client:
        assert (await client.get("/api/me")).status_code == 401
        assert (await client.get("/embedded/static/style.css")).status_code == 200
        assert (await client.get("/no/such/route/123")).status_code == 404
        assert (await client.delete("/healthz")).status_code == 405
        text = (await client.get("/metrics")).text
    await app.state.fanvue.aclose()
    counted = {
        (labels["method"], labels["route"], labels["status"]): value
        for key, value in samples(text, "http_requests_total").items()
        if (labels := dict(key))
    }
    assert counted == {
        ("GET", "/api/me", "401"): 1.0,
        ("GET", "/embedded/static/{path}", "200"): 1.0,
        ("GET", "unmatched", "404"): 1.0,  # never the raw path: no unbounded label values
        ("DELETE", "/healthz", "405"): 1.0,
    }
    durations = samples(text, "http_request_duration_seconds_count")
    assert durations[(("method", "GET"), ("route", "/api/me"))] == 1.0
    # The scrape itself is in flight while it renders.
    assert samples(text, "http_requests_in_progress")[(("method", "GET"),)] == 1.0
    # Single-process mode: prometheus_client's process collector.
    assert samples(text, "process_cpu_seconds_total")
    assert samples(text, "process_resident_memory_bytes")


def _multiprocess_directory(log_text: str) -> Path:
    match = re.search(r"multiprocess directory (\S+?)\"", log_text)
    assert match, f"serve did not log its multiprocess directory:\n{log_text}"
    return Path(match.group(1))


def _requests_by_process(directory: Path) -> Counter[str]:
    """Requests each worker counted, read from its own file (counter_<pid>.db)."""
    served: Counter[str] = Counter()
    for path in directory.glob("counter_*.db"):
        entries = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
        for key, value, _timestamp, _position in entries:
            if json.loads(key)[1] == "http_requests_total":
                served[path.stem] += int(value)
    return served


@pytest.mark.slow
def test_serve_with_two_workers_scrapes_the_sum_of_both(
    tmp_path: Path, emulator: EmulatorHandle
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **dev_environment(app_url=base, platform_url=emulator.base_url, environ={}),
        "LOG_FORMAT": "json",
    }
    emulator.control("PATCH", "/app", json={"redirect_uris": [env["OAUTH_REDIRECT_URI"]]})
    command = [sys.executable, "-m", "fanvue_embedded.cli", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "2"]
    log_path = tmp_path / "serve.log"
    health = exchanges = 0
    previous = (0.0, 0.0)
    with spawn(command, host="127.0.0.1", port=port, env=env, log_path=log_path):
        directory = _multiprocess_directory(log_path.read_text())
        for _ in range(SCRAPES):
            # A new connection per request: the kernel hands each to whichever worker accepts.
            for _ in range(REQUESTS_PER_SCRAPE):
                assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
                health += 1
            token = emulator.session_token()
            answer = httpx.post(f"{base}/api/fanvue/session", json={"token": token}, timeout=10)
            assert answer.status_code == 200, answer.text
            exchanges += 1
            # A worker counts a request right after sending its last byte: a scrape that lands
            # in between sees one fewer, so scrape again until the total is there.
            for _attempt in range(50):
                text = httpx.get(f"{base}/metrics", timeout=10).text
                seen = (
                    requests_to(text, "/healthz"),
                    samples(text, "fanvue_session_exchanges_total").get((("outcome", "ok"),), 0),
                )
                assert seen[0] >= previous[0], "the request counter went back"
                assert seen[1] >= previous[1], "the exchange counter went back"
                assert seen[0] <= health, "counted more requests than were made"
                assert seen[1] <= exchanges, "counted more exchanges than were made"
                previous = seen
                if seen == (health, exchanges):
                    break
            assert previous == (health, exchanges)
            # Process metrics are per process: not part of the multiprocess sum.
            assert not samples(text, "process_cpu_seconds_total")
        served = _requests_by_process(directory)
        assert len([pid for pid, count in served.items() if count > 0]) == 2, served
    assert not directory.exists(), "serve removes its multiprocess directory on exit"
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert "\x1b" not in line, line
        assert "\\u001b" not in line, line
        assert json.loads(line)["level"]


def test_multiprocess_mode_makes_and_removes_its_directory_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fanvue_embedded.metrics import MULTIPROCESS_VARIABLE, multiprocess_mode

    monkeypatch.delenv(MULTIPROCESS_VARIABLE, raising=False)
    with multiprocess_mode(1) as none:
        assert none is None  # one worker: the in-process registry
    with multiprocess_mode(2) as made:
        assert made is not None
        assert Path(made).is_dir()
        assert os.environ[MULTIPROCESS_VARIABLE] == made  # what the workers inherit
    assert not Path(made).exists()
    assert MULTIPROCESS_VARIABLE not in os.environ

    monkeypatch.setenv(MULTIPROCESS_VARIABLE, str(tmp_path))
    with multiprocess_mode(2) as given:
        assert given == str(tmp_path)
    assert tmp_path.is_dir()  # yours: left in place
