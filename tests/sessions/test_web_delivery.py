"""WEB delivery through the whole path: container -> ingress -> worker chain -> ingress XPUB ->
session server -> browser WebSocket -> ack in Redis -> worker -> DELIVERED via WEB."""

from __future__ import annotations

import json

import pytest

from client import make_event
from proto import AckStatus, ChannelType
from tests.helpers import browser, wait_until

pytestmark = pytest.mark.broker


def test_critical_web_delivery_counts_when_the_browser_acks(
    pipeline, session_server, token_for, client, acks, store, new_id
):
    user = new_id("browser")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/9/{user}")
    with browser(session_server.ws_url, token_for(user)) as ws:
        wait_until(lambda: store.presence.is_present(user), "presence of the browser session")
        event = make_event(
            user,
            "POSITION_LIQUIDATED",
            "CRITICAL",
            [("WEB", False), ("DISCORD", False)],
            {"symbol": "ETH/USDT", "side": "long", "size": "2", "liquidation_price": "2500"},
        )
        client.send(event)
        message = json.loads(ws.recv(timeout=15))
        assert message["event_id"] == event.event_id
        assert message["priority"] == "CRITICAL"
        assert message["title"] == "Position liquidated — LONG 2 ETH/USDT"
        assert message["needs_ack"] is True  # a liquidation waits for the person's "Got it"
        ws.send(json.dumps({"ack": event.event_id}))  # shown
        assert json.loads(ws.recv(timeout=15)) == {
            "type": "acked",
            "event_id": event.event_id,
            "human": False,
        }
        ws.send(json.dumps({"ack": event.event_id, "human": True}))  # "Got it" pressed
        assert json.loads(ws.recv(timeout=15))["human"] is True

        received = acks.collect(client, event.event_id)
    assert [(a.status, a.delivered_via) for a in received] == [
        (AckStatus.QUEUED, ChannelType.ACTIVE_SESSION),
        (AckStatus.DELIVERED, ChannelType.WEB),
    ]
    assert pipeline.state.requests("discord") == [], "acked on WEB: no escalation"


def test_critical_web_delivery_without_ack_escalates(
    pipeline, session_server, token_for, client, acks, store, new_id
):
    user = new_id("silent")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/9/{user}")
    with browser(session_server.ws_url, token_for(user)) as ws:
        wait_until(lambda: store.presence.is_present(user), "presence of the browser session")
        event = make_event(user, "ORDER_FILLED", "CRITICAL", [("WEB", False), ("DISCORD", False)])
        client.send(event)
        assert json.loads(ws.recv(timeout=15))["event_id"] == event.event_id  # seen, never acked
        received = acks.collect(client, event.event_id)
    assert received[-1].delivered_via == ChannelType.DISCORD
