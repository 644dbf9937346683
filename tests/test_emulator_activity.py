"""The emulator emits what Fanvue emits, from its own state: fan actions and chat reads change
the world the API reads and send the documented payloads, signed, to every matching
subscription (the app's endpoint, API-created subscriptions with their own secrets)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fanvue_embedded._devdefaults import DEV_WEBHOOK_SECRET
from fanvue_embedded.webhooks import EVENT_CLASSES, parse_event, verify_signature
from tests.support.emulator import EmulatorHandle
from tests.support.webhook_sink import Received, Sink, webhook_sink

LUNA = "luna.rivers"
SENDER = {"uuid", "handle", "displayName", "avatarUrl"}
# webhooks.md §2/§3, field for field.
FLAT_FIELDS = {
    "message.received": {
        "messageUuid", "message", "sender", "recipientUuid", "isMuted", "timestamp",
    },
    "message.read": {"counterpartUuid", "readMessagesCount", "recipientUuid", "timestamp"},
    "follow.new": {"recipientUuid", "sender", "timestamp"},
    "subscription.new": {"price", "recipientUuid", "sender", "timestamp"},
}  # fmt: skip
PAYMENT_FIELDS = {
    "object", "id", "status", "billing_reason", "gross", "net", "fees", "currency",
    "paid_in_full", "installment", "subscription", "client_reference_id", "transaction_id",
    "created_at", "paid_at", "checkout_link", "purchaser", "creator", "metadata",
}  # fmt: skip
SUBSCRIPTION_FIELDS = {
    "object", "id", "status", "cancel_at_period_end", "expires_at", "created_at",
    "client_reference_id", "deactivation_reason", "checkout_link", "purchaser", "creator",
    "metadata",
}  # fmt: skip
REFUND_FIELDS = {
    "object", "id", "payment_id", "amount", "currency", "reason", "full_amount", "created_at",
    "client_reference_id", "checkout_link", "purchaser", "creator", "metadata",
}  # fmt: skip
PAYOUT_FIELDS = {
    "object", "id", "status", "amount", "currency", "fees", "fx_rate", "external_reference_id",
    "paid_at", "creator",
}  # fmt: skip


@pytest.fixture
def sink(emulator: EmulatorHandle) -> Iterator[Sink]:
    """An endpoint registered as the app's webhook_url."""
    with webhook_sink() as running:
        emulator.control("PATCH", "/app", json={"webhook_url": running.url()})
        yield running


def act(emulator: EmulatorHandle, path: str, **body: Any) -> dict[str, Any]:
    result: dict[str, Any] = emulator.control("POST", f"/creators/{LUNA}/{path}", json=body)
    return result


def typed(received: Received) -> Any:
    """What the library makes of it, after checking the app-wide signature."""
    header = received.headers["x-fanvue-signature"]
    assert verify_signature(received.body, header, [DEV_WEBHOOK_SECRET])
    return parse_event(received.body, header_type=received.headers.get("x-fanvue-event-type"))


def first_chat(emulator: EmulatorHandle) -> str:
    keys: list[str] = emulator.control("GET", f"/creators/{LUNA}/world/chats")["keys"]
    return keys[0]


def test_a_fan_message_lands_in_the_chat_and_is_sent_as_message_received(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    token = emulator.access_token()
    fan = first_chat(emulator)
    unread_before = next(
        c["unreadMessagesCount"]
        for c in emulator.api("GET", "/chats", token, params={"size": 50}).json()["data"]
        if c["user"]["uuid"] == fan
    )
    sent = act(emulator, f"fans/{fan}/messages", text="Hello from a fan")
    assert sent["type"] == "message.received"
    assert [(d["target"], d["status"]) for d in sent["deliveries"]] == [("app", 200)]
    [received] = sink.wait_for(1)
    payload = received.json()
    assert payload == sent["payload"]
    assert set(payload) == FLAT_FIELDS["message.received"]
    assert set(payload["message"]) == {
        "uuid",
        "text",
        "hasMedia",
        "mediaUuids",
        "price",
        "createdAt",
    }
    assert set(payload["sender"]) == SENDER
    assert payload["sender"]["uuid"] == fan
    assert payload["recipientUuid"] == emulator.creator_uuid(LUNA)
    assert payload["message"]["text"] == "Hello from a fan"
    event = typed(received)
    assert type(event).__name__ == "MessageReceived"
    assert event.message_uuid == payload["messageUuid"]

    # The API sees it: newest in the chat, the chat on top with one more unread message.
    chats = emulator.api("GET", "/chats", token).json()["data"]
    assert chats[0]["user"]["uuid"] == fan
    assert chats[0]["unreadMessagesCount"] == unread_before + 1
    assert chats[0]["lastMessage"]["uuid"] == payload["messageUuid"]
    messages = emulator.api(
        "GET", f"/chats/{fan}/messages", token, params={"markAsRead": "false"}
    ).json()["data"]
    assert messages[0]["uuid"] == payload["messageUuid"]
    assert messages[0]["text"] == "Hello from a fan"


def wait_for_history(emulator: EmulatorHandle, event_type: str) -> list[dict[str, Any]]:
    """The history's deliveries of ``event_type`` once there is one (API-caused events are
    sent after the API answered)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        history = emulator.control("GET", "/webhooks")["deliveries"]
        found = [d for d in history if d["type"] == event_type]
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"no {event_type} delivery")


def test_reading_a_chat_through_the_api_sends_message_read(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    token = emulator.access_token(LUNA, "write:chat")
    fan = first_chat(emulator)
    act(emulator, f"fans/{fan}/messages", text="one")
    act(emulator, f"fans/{fan}/messages", text="two")
    unread = next(
        c["unreadMessagesCount"]
        for c in emulator.api("GET", "/chats", token).json()["data"]
        if c["user"]["uuid"] == fan
    )
    assert unread >= 2
    # listMessages marks the chat read by default (markAsRead "true").
    assert emulator.api("GET", f"/chats/{fan}/messages", token).status_code == 200
    [delivery] = wait_for_history(emulator, "message.read")
    assert delivery["status"] == 200
    received = sink.wait_for(3)[2]
    payload = received.json()
    assert set(payload) == FLAT_FIELDS["message.read"]
    assert payload["counterpartUuid"] == fan
    assert payload["readMessagesCount"] == unread
    assert payload["recipientUuid"] == emulator.creator_uuid(LUNA)
    assert type(typed(received)).__name__ == "MessageRead"
    chat = next(
        c for c in emulator.api("GET", "/chats", token).json()["data"] if c["user"]["uuid"] == fan
    )
    assert chat["unreadMessagesCount"] == 0

    # Nothing unread any more: reading again (updateChat isRead) sends nothing.
    assert emulator.api("PATCH", f"/chats/{fan}", token, json={"isRead": True}).status_code < 300
    act(emulator, f"fans/{fan}/messages", text="three")
    assert emulator.api("PATCH", f"/chats/{fan}", token, json={"isRead": True}).status_code < 300
    reads = [r.json() for r in sink.wait_for(5) if "counterpartUuid" in r.json()]
    assert [r["readMessagesCount"] for r in reads] == [unread, 1]


def test_follow_and_subscribe_change_the_fans_and_send_their_events(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    token = emulator.access_token()
    followers = emulator.api("GET", "/followers", token, params={"size": 1}).json()
    follow = act(emulator, "fans/new/follow")
    payload = follow["payload"]
    assert set(payload) == FLAT_FIELDS["follow.new"]
    newest = emulator.api("GET", "/followers", token, params={"size": 1}).json()["data"][0]
    assert newest["uuid"] == payload["sender"]["uuid"]
    assert newest != followers["data"][0]
    [received] = sink.wait_for(1)
    assert received.headers["x-fanvue-event-type"] == "follow.new"  # ASSUMED header
    assert type(typed(received)).__name__ == "FollowNew"
    again = httpx.post(
        f"{emulator.base_url}/_emulator/creators/{LUNA}/fans/{newest['uuid']}/follow", json={}
    )
    assert again.status_code == 409

    me = emulator.api("GET", "/users/me", token).json()["fanCounts"]
    subscribed = act(emulator, f"fans/{newest['uuid']}/subscribe", price=1299)
    payload = subscribed["payload"]
    assert set(payload) == FLAT_FIELDS["subscription.new"]
    assert payload["price"] == 1299
    after = emulator.api("GET", "/users/me", token).json()["fanCounts"]
    assert after["subscribersCount"] == me["subscribersCount"] + 1
    assert after["followersCount"] == me["followersCount"] - 1
    earnings = emulator.api("GET", "/insights/earnings", token).json()["data"]
    assert (earnings[0]["source"], earnings[0]["gross"]) == ("subscription", 1299)
    assert earnings[0]["user"]["uuid"] == newest["uuid"]
    assert type(typed(sink.wait_for(2)[1])).__name__ == "SubscriptionNew"


def test_tips_and_purchases_are_earnings_with_their_flat_events(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    token = emulator.access_token(LUNA, "read:post")
    fan = first_chat(emulator)
    post_tip = act(emulator, f"fans/{fan}/tips", amount=700)["payload"]
    assert post_tip["context"] == "post"
    assert set(post_tip) == {
        "context", "recipientUuid", "senderUuid", "price", "sender", "postUuid", "timestamp",
    }  # fmt: skip
    tips = emulator.api("GET", f"/posts/{post_tip['postUuid']}/tips", token).json()["data"]
    assert (tips[0]["gross"], tips[0]["user"]["uuid"]) == (700, fan)

    sent = act(emulator, f"fans/{fan}/messages", text="for you")["payload"]
    chat_tip = act(emulator, f"fans/{fan}/tips", amount=300, messageUuid=sent["messageUuid"])
    assert chat_tip["payload"]["context"] == "message"
    assert chat_tip["payload"]["messageUuid"] == sent["messageUuid"]
    assert "postUuid" not in chat_tip["payload"]

    bought = act(emulator, f"fans/{fan}/purchases")["payload"]
    assert set(bought) == {"postUuid", "price", "recipientUuid", "sender", "timestamp"}
    post = emulator.api("GET", f"/posts/{bought['postUuid']}", token).json()
    assert bought["price"] == post["price"]
    rows = emulator.api("GET", "/insights/earnings", token).json()["data"][:3]
    assert [(r["source"], r["gross"]) for r in rows] == [
        ("post", bought["price"]),
        ("tip", 300),
        ("tip", 700),
    ]
    types = [type(typed(r)).__name__ for r in sink.wait_for(4)]
    assert types == ["TipNew", "MessageReceived", "TipNew", "PurchaseNew"]

    # A fan cannot buy their own (unpriced) message; an unknown post is 404.
    refused = httpx.post(
        f"{emulator.base_url}/_emulator/creators/{LUNA}/fans/{fan}/purchases",
        json={"messageUuid": sent["messageUuid"]},
    )
    assert refused.status_code == 409
    unknown = httpx.post(
        f"{emulator.base_url}/_emulator/creators/{LUNA}/fans/{fan}/purchases",
        json={"postUuid": "00000000-0000-4000-8000-000000000000"},
    )
    assert unknown.status_code == 404


def test_a_creators_priced_message_bought_is_purchase_with_route_uuid(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    token = emulator.access_token(LUNA, "write:chat", "read:media")
    fan = first_chat(emulator)
    media = emulator.api("GET", "/media", token, params={"size": 1}).json()["data"][0]["uuid"]
    sent = emulator.api(
        "POST", f"/chats/{fan}/message", token, json={"mediaUuids": [media], "price": 900}
    )
    assert sent.status_code < 300, sent.text
    message = sent.json()["messageUuid"]
    bought = act(emulator, f"fans/{fan}/purchases", messageUuid=message)["payload"]
    assert (bought["routeUuid"], bought["price"]) == (message, 900)
    assert "postUuid" not in bought
    event = typed(sink.wait_for(1)[0])
    assert (type(event).__name__, event.route_uuid) == ("PurchaseNew", message)
    listed = emulator.api(
        "GET", f"/chats/{fan}/messages", token, params={"markAsRead": "false"}
    ).json()["data"]
    assert next(m for m in listed if m["uuid"] == message)["purchasedAt"] is not None


def test_checkout_payouts_and_app_store_events_are_enveloped(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    luna = emulator.creator_uuid(LUNA)
    pending = act(emulator, "checkout/payments", status="pending", gross=2500)
    data = pending["payload"]["data"]
    assert set(pending["payload"]) == {"id", "type", "timestamp", "data"}
    assert pending["payload"]["id"] == pending["id"]
    assert set(data) == PAYMENT_FIELDS
    assert (data["status"], data["net"], data["creator"]) == ("pending", None, {"uuid": luna})
    paid = act(emulator, "checkout/payments", status="succeeded", payment=data["id"])
    paid_data = paid["payload"]["data"]
    assert paid_data["id"] == data["id"]
    assert paid["id"] != pending["id"]  # a new event about the same payment
    assert paid_data["net"] == 2500 - sum(paid_data["fees"].values())
    assert paid_data["paid_in_full"] is True
    twice = httpx.post(
        f"{emulator.base_url}/_emulator/creators/{LUNA}/checkout/payments",
        json={"status": "failed", "payment": data["id"]},
    )
    assert twice.status_code == 409

    refund = act(emulator, "checkout/refunds", payment=data["id"], reason="requested")
    assert set(refund["payload"]["data"]) == REFUND_FIELDS
    assert refund["payload"]["data"]["payment_id"] == data["id"]
    assert refund["payload"]["data"]["amount"] == 2500
    dispute = act(emulator, "checkout/disputes", payment=data["id"], stage="flagged")
    assert dispute["payload"]["data"] == {"object": "dispute"}

    activated = act(emulator, "checkout/subscriptions", change="activated")["payload"]["data"]
    assert set(activated) == SUBSCRIPTION_FIELDS
    subscription = activated["id"]
    first = act(emulator, "checkout/payments", status="succeeded", subscription=subscription)
    renewal = act(emulator, "checkout/payments", status="succeeded", subscription=subscription)
    assert first["payload"]["data"]["billing_reason"] == "subscription_initial"
    assert renewal["payload"]["data"]["billing_reason"] == "subscription_renewal"
    assert renewal["payload"]["data"]["purchaser"] == activated["purchaser"]
    cancelled = act(
        emulator, "checkout/subscriptions", change="cancel_at_period_end_changed",
        subscription=subscription,
    )["payload"]["data"]  # fmt: skip
    assert (cancelled["status"], cancelled["cancel_at_period_end"]) == ("active", True)
    ended = act(
        emulator, "checkout/subscriptions", change="deactivated", subscription=subscription
    )["payload"]["data"]
    assert (ended["status"], ended["deactivation_reason"]) == ("expired", "NON_RENEWING")

    payout = act(emulator, "payouts", amount=12_000)["payload"]
    assert set(payout["data"]) == PAYOUT_FIELDS
    app_paid = emulator.control("POST", "/app/payments", json={"event": "succeeded"})
    assert app_paid["payload"]["data"] == {"object": "payment"}
    assert app_paid["deliveries"][0]["creator"] is None

    received = sink.wait_for(11)
    assert [r.json()["type"] for r in received] == [
        "checkout_link.payment.pending",
        "checkout_link.payment.succeeded",
        "checkout_link.refund.created",
        "checkout_link.dispute.flagged",
        "checkout_link.subscription.activated",
        "checkout_link.payment.succeeded",
        "checkout_link.payment.succeeded",
        "checkout_link.subscription.cancel_at_period_end_changed",
        "checkout_link.subscription.deactivated",
        "payout.paid",
        "app.payment.succeeded",
    ]
    events = [typed(r) for r in received]
    assert [type(e) for e in events] == [EVENT_CLASSES[e.type] for e in events]


def test_subscriptions_get_only_their_types_signed_with_their_own_secret(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    without_scope = emulator.access_token(LUNA)
    luna = emulator.access_token(LUNA, "read:creator")
    emulator.control("PUT", "/creators/max.stone/consent")
    max_token = emulator.access_token("max.stone")
    created = emulator.api(
        "POST",
        "/webhooks/subscriptions",
        luna,
        json={"url": sink.url("/sub"), "events": ["tip.new", "checkout_link.payment.succeeded"]},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body.pop("signingSecret")
    assert body == {
        "uuid": body["uuid"],
        "url": sink.url("/sub"),
        "events": ["tip.new", "checkout_link.payment.succeeded"],
    }
    listed = emulator.api("GET", "/webhooks/subscriptions", luna).json()
    assert listed == {"data": [body]}  # the secret is shown once only
    # Scope read:creator is needed; another creator's token sees none of luna's.
    refused = emulator.api("GET", "/webhooks/subscriptions", without_scope)
    assert (refused.status_code, refused.json()) == (
        403,
        {"error": "insufficient scope: read:creator required"},
    )
    assert emulator.api("GET", "/webhooks/subscriptions", max_token).json() == {"data": []}

    fan = first_chat(emulator)
    act(emulator, f"fans/{fan}/messages", text="not subscribed")
    tip = act(emulator, f"fans/{fan}/tips", amount=500)
    assert sorted((d["target"], d["status"]) for d in tip["deliveries"]) == sorted(
        [("app", 200), (body["uuid"], 200)]
    )
    emulator.control("POST", "/creators/max.stone/fans/new/follow", json={})
    emulator.control("POST", "/creators/max.stone/checkout/payments", json={"status": "succeeded"})
    [delivered] = sink.wait_for(1, "/sub")
    assert delivered.json() == tip["payload"]
    header = delivered.headers["x-fanvue-signature"]
    assert verify_signature(delivered.body, header, [secret])
    with pytest.raises(Exception, match="signature"):
        verify_signature(delivered.body, header, [DEV_WEBHOOK_SECRET])
    assert len(sink.at("/hook")) == 4  # the app's endpoint gets everything
    assert len(sink.at("/sub")) == 1

    # The app endpoint can be narrowed too; the control API lists and removes subscriptions.
    emulator.control("PATCH", "/app", json={"webhook_events": ["payout.paid"]})
    quiet = act(emulator, f"fans/{fan}/tips", amount=100)
    assert [d["target"] for d in quiet["deliveries"]] == [body["uuid"]]
    [listed_row] = emulator.control("GET", "/webhook-subscriptions")["subscriptions"]
    assert listed_row["creator"] == emulator.creator_uuid(LUNA)
    assert "signingSecret" not in listed_row
    emulator.control("DELETE", f"/webhook-subscriptions/{body['uuid']}")
    assert emulator.api("GET", "/webhooks/subscriptions", luna).json() == {"data": []}


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"url": "ftp://x", "events": ["tip.new"]}, "url must be a URL address"),
        ({"url": "https://x.test/h", "events": []}, "events must contain at least 1 elements"),
        ({"url": "https://x.test/h", "events": ["app.payment.succeeded"]}, "each value in events"),
    ],
)
def test_subscription_requests_are_validated(
    emulator: EmulatorHandle, body: dict[str, Any], problem: str
) -> None:
    token = emulator.access_token(LUNA, "read:creator")
    response = emulator.api("POST", "/webhooks/subscriptions", token, json=body)
    assert response.status_code == 400
    assert any(problem in error for error in response.json()["errors"])
    assert emulator.api("GET", "/webhooks/subscriptions", token).json() == {"data": []}


def test_retries_follow_the_settings_and_every_attempt_is_listed(
    emulator: EmulatorHandle, sink: Sink
) -> None:
    emulator.settings(webhook_retries=3, webhook_backoff=0.01)
    sink.statuses.extend([500, 503])
    sent = act(emulator, "fans/new/follow")
    [delivery] = sent["deliveries"]
    assert [a["status"] for a in delivery["attempts"]] == [500, 503, 200]
    received = sink.wait_for(3)
    assert len({r.body for r in received}) == 1  # one event, the same body every attempt
    [listed] = emulator.control("GET", "/webhooks")["deliveries"]
    assert listed["attempts"] == delivery["attempts"]
    assert (listed["target"], listed["type"]) == ("app", "follow.new")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("fans/nobody/follow", {}, 404),
        ("fans/new/messages", {}, 422),
        ("fans/new/tips", {"amount": 0}, 422),
        ("fans/new/tips", {"amount": 100, "context": "story"}, 422),
        ("checkout/payments", {"status": "paid"}, 422),
        ("checkout/refunds", {"payment": "FV-NOPE"}, 404),
        ("checkout/subscriptions", {"change": "deactivated"}, 422),
        ("fans/new/follow", {"extra": 1}, 400),
    ],
)
def test_impossible_actions_are_refused_and_send_nothing(
    emulator: EmulatorHandle, sink: Sink, path: str, body: dict[str, Any], status: int
) -> None:
    before = emulator.control("GET", f"/creators/{LUNA}/world")
    response = httpx.post(f"{emulator.base_url}/_emulator/creators/{LUNA}/{path}", json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error", "field", "error_description"}
    assert emulator.control("GET", "/webhooks") == {"deliveries": []}
    assert sink.at() == []
    assert emulator.control("GET", f"/creators/{LUNA}/world") == before
