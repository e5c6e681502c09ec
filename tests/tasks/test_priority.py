"""CRITICAL is not starved behind a NORMAL backlog, on either broker: a worker serving both takes
CRITICAL first on Redis (the transport's priority order), and in turn with NORMAL on RabbitMQ,
which is enough for CRITICAL never to wait behind the backlog."""

from __future__ import annotations

import pytest

from client import NotifyClient, make_event
from proto import AckStatus, ChannelType

pytestmark = pytest.mark.broker

BACKLOG = 30


def test_a_critical_event_overtakes_a_normal_backlog(pipeline, settings, store, new_id):
    user = new_id("backlog")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/4/{user}")
    pipeline.state.set_switch("discord", "ok", latency_ms=300)  # the backlog takes seconds
    with NotifyClient(settings.router_connect, identity=new_id("p").encode()) as client:
        normal = [
            client.send(make_event(user, "STRATEGY_LOG", "NORMAL", ["DISCORD"], {"message": "x"}))
            for _ in range(BACKLOG)
        ]
        for delivery in normal:
            delivery.queued.result(20)  # the whole backlog is in the broker
        critical = client.send(
            make_event(user, "ORDER_FILLED", "CRITICAL", ["DISCORD"], {"symbol": "ETH"})
        )
        ack = critical.result(30)
        normal_done_first = sum(d.done() for d in normal)
        assert all(d.result(60).status == AckStatus.DELIVERED for d in normal)
    assert (ack.status, ack.delivered_via) == (AckStatus.DELIVERED, ChannelType.DISCORD)
    # In line behind the backlog it would have come last; it came within the first few.
    assert normal_done_first < BACKLOG // 3, f"{normal_done_first} NORMAL events went first"
