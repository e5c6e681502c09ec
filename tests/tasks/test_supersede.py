"""Superseded and expired updates: a newer POSITION_UPDATED for the same position replaces one
not yet delivered, on every channel, and the replaced one is answered ACK_ERROR "superseded by
<id>"; one that arrives late (an older timestamp) is replaced at once; a NORMAL event past its
TTL is never sent late, and its ack says "expired"."""

from __future__ import annotations

import time

import pytest

from client import NotifyClient, make_event
from proto import AckStatus, ChannelType

pytestmark = pytest.mark.broker


def _update(user: str, position: str, pnl: str, **kwargs):
    payload = {"position_id": position, "symbol": "ETH/USDT", "unrealized_pnl": pnl}
    return make_event(user, "POSITION_UPDATED", "NORMAL", ["DISCORD"], payload, **kwargs)


def test_a_newer_update_replaces_one_not_yet_delivered(pipeline, settings, store, new_id):
    user = new_id("pos")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/4/{user}")
    # The first update meets a 429: it waits 5 s for its retry, not delivered yet.
    pipeline.state.set_switch("discord", "rate_limit", retry_after=5, times=1)
    with NotifyClient(settings.router_connect, identity=new_id("c").encode()) as client:
        first = client.send(_update(user, "p-1", "-10"))
        first.queued.result(10)
        time.sleep(0.5)  # the 429 came back: the first is parked (no sleep in an assertion)
        second = client.send(_update(user, "p-1", "-25"))
        other = client.send(_update(user, "p-2", "+3"))  # another position: untouched
        replaced, kept, untouched = first.result(30), second.result(30), other.result(30)
    assert (replaced.status, replaced.error_message) == (
        AckStatus.ACK_ERROR,
        f"superseded by {second.event_id}",
    )
    assert (kept.status, kept.delivered_via) == (AckStatus.DELIVERED, ChannelType.DISCORD)
    assert untouched.status == AckStatus.DELIVERED
    bodies = [r["json"] for r in pipeline.state.requests("discord") if r["status"] == 204]
    # By its id (each message's footer names it): "-10" alone also matches an id like "…-10ab-…".
    assert not any(first.event_id in str(body) for body in bodies), (
        "the replaced update was never sent"
    )
    log = store.delivery_log.read(user, first.event_id)
    assert log[-1]["kind"] == "superseded"


def test_an_update_that_arrives_late_is_replaced_at_once(pipeline, settings, store, new_id):
    user = new_id("late")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/4/{user}")
    now = int(time.time() * 1000)
    with NotifyClient(settings.router_connect, identity=new_id("c").encode()) as client:
        newer = client.send(_update(user, "p-9", "-5", timestamp_ms=now)).result(30)
        older = client.send(_update(user, "p-9", "-1", timestamp_ms=now - 60_000))
        late = older.result(30)
    assert newer.status == AckStatus.DELIVERED
    assert late.status == AckStatus.ACK_ERROR
    assert late.error_message.startswith("superseded by ")


def test_a_normal_event_past_its_ttl_is_not_sent_late(own_stack, clean_sandbox):

    stack = own_stack(workers=1, NOTIFY_NORMAL_TTL_S="2", NOTIFY_CHANNEL_RETRIES="5")
    store = stack.store()
    store.directory.update(
        "ttl-user", discord_webhook=f"{clean_sandbox.url}/discord/api/webhooks/4/ttl-user"
    )
    clean_sandbox.state.set_switch("discord", "rate_limit", retry_after=3)  # waits past the TTL
    with NotifyClient(stack.router(), identity=b"ttl") as client:
        event = make_event("ttl-user", "ALERT_TRIGGERED", "NORMAL", ["DISCORD"], {"alert_id": "a"})
        ack = client.send(event).result(60)
    assert ack.status == AckStatus.ACK_ERROR
    assert ack.error_message.startswith("expired: TTL passed before delivery"), ack.error_message
    assert all(r["status"] == 429 for r in clean_sandbox.state.requests("discord"))


def test_a_delivered_update_is_edited_in_place_on_telegram(pipeline, settings, store, new_id):
    user = new_id("edit")
    store.directory.update(user, telegram_chat="5151")
    with NotifyClient(settings.router_connect, identity=new_id("c").encode()) as client:
        first = make_event(
            user,
            "POSITION_UPDATED",
            "NORMAL",
            ["TELEGRAM"],
            {"position_id": "p-7", "symbol": "BTC/USDT", "unrealized_pnl": "-10"},
        )
        assert client.send(first).result(30).delivered_via == ChannelType.TELEGRAM
        second = make_event(
            user,
            "POSITION_UPDATED",
            "NORMAL",
            ["TELEGRAM"],
            {"position_id": "p-7", "symbol": "BTC/USDT", "unrealized_pnl": "-25"},
        )
        assert client.send(second).result(30).delivered_via == ChannelType.TELEGRAM
    methods = [r["path"].rsplit("/", 1)[-1] for r in pipeline.state.requests("telegram")]
    assert methods.count("sendMessage") == 1 and methods.count("editMessageText") == 1
    [edit] = [
        r for r in pipeline.state.requests("telegram") if r["path"].endswith("editMessageText")
    ]
    assert "-25" in edit["json"]["text"]
    [entry] = store.delivery_log.read(user, second.event_id)
    assert "edited in place" in entry["detail"]
