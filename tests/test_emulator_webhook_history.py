"""The emulator's webhook delivery history (what the dashboard shows)."""

from __future__ import annotations

import httpx

from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port


def test_history_records_failures_and_clears(emulator: EmulatorHandle) -> None:
    with httpx.Client(base_url=emulator.base_url) as client:
        assert client.post("/_emulator/webhooks", json={"type": "tip"}).status_code == 409
        assert client.get("/_emulator/webhooks").json() == {"deliveries": []}
        unreachable = f"http://127.0.0.1:{free_port()}/webhooks/fanvue"
        client.patch("/_emulator/app", json={"webhook_url": unreachable}).raise_for_status()
        assert client.post("/_emulator/webhooks", json={"type": "tip"}).status_code == 502
        assert client.post("/_emulator/webhooks", json={"type": "test"}).status_code == 502
        deliveries = client.get("/_emulator/webhooks").json()["deliveries"]
        assert [d["type"] for d in deliveries] == ["test", "tip"]  # newest first
        assert all(d["status"] is None and d["error"] == "unreachable" for d in deliveries)
        assert all(d["url"] == unreachable for d in deliveries)
        assert client.delete("/_emulator/webhooks").json() == {"deliveries": []}
        client.post("/_emulator/webhooks", json={"type": "tip"})
        client.post("/_emulator/reset").raise_for_status()
        assert client.get("/_emulator/webhooks").json() == {"deliveries": []}
