"""The emulator's webhook delivery history (what the dashboard shows)."""

from __future__ import annotations

import httpx

from tests.emulator_kit import JSON
from tests.support.emulator import EmulatorHandle
from tests.support.servers import free_port


def test_history_records_failures_and_clears(emulator: EmulatorHandle) -> None:
    with httpx.Client(base_url=emulator.base_url) as client:
        assert client.post("/_emulator/webhooks", json={"type": "tip.new"}).status_code == 409
        assert client.get("/_emulator/webhooks").json() == {"deliveries": []}
        unreachable = f"http://127.0.0.1:{free_port()}/webhooks/fanvue"
        client.patch("/_emulator/app", json={"webhook_url": unreachable}).raise_for_status()
        once = {"retries": 0}
        assert (
            client.post("/_emulator/webhooks", json={"type": "tip.new", **once}).status_code == 502
        )
        retried = {"type": "payout.paid", "retries": 2, "backoff": 0}
        assert client.post("/_emulator/webhooks", json=retried).status_code == 502
        deliveries = client.get("/_emulator/webhooks").json()["deliveries"]
        assert [d["type"] for d in deliveries] == ["payout.paid", "tip.new"]  # newest first
        assert all(d["status"] is None and d["error"] == "unreachable" for d in deliveries)
        assert all(d["url"] == unreachable for d in deliveries)
        # Each attempt is listed: one for the plain send, three for the retried one.
        assert [len(d["attempts"]) for d in deliveries] == [3, 1]
        assert [a["attempt"] for a in deliveries[0]["attempts"]] == [1, 2, 3]
        assert all(a["error"] == "unreachable" for a in deliveries[0]["attempts"])
        assert client.delete("/_emulator/webhooks", headers=JSON).json() == {"deliveries": []}
        client.post("/_emulator/webhooks", json={"type": "tip.new", **once})
        client.post("/_emulator/reset", headers=JSON).raise_for_status()
        assert client.get("/_emulator/webhooks").json() == {"deliveries": []}
