"""Several hosts: 2 ingress replicas and 3 workers on one broker. A container gets its acks from
the ingress it is connected to, whichever worker delivered; one that moves to the other replica
and resends gets the status replayed there."""

from __future__ import annotations

import threading
import uuid
from collections import Counter, defaultdict
from contextlib import ExitStack

import pytest

from client import FINAL_STATUSES, NotifyClient, make_event
from proto import AckStatus, ChannelType
from tests.faults.stack import Stack, delivered_requests

pytestmark = pytest.mark.broker

PER_CONTAINER = 25


@pytest.fixture
def replicas(own_stack) -> Stack:
    return own_stack(workers=3, ingresses=2)


def test_every_critical_event_is_acked_once_to_its_sender_across_replicas(replicas, clean_sandbox):
    from store import Store

    store = Store(replicas.redis_url, replicas.env["NOTIFY_KEY_PREFIX"])
    users = [f"rep-{uuid.uuid4().hex[:6]}" for _ in range(4)]
    for user in users:
        store.directory.update(
            user, discord_webhook=f"{clean_sandbox.url}/discord/api/webhooks/7/{user}"
        )
    lock = threading.Lock()
    heard: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))

    def recorder(container: str):
        def on_ack(ack) -> None:
            with lock:
                heard[container][ack.event_id].append(ack.status)

        return on_ack

    sent: dict[str, list] = {}
    with ExitStack() as clients:
        containers = {}
        for n in range(4):  # two on each replica
            name = f"c{n}"
            containers[name] = clients.enter_context(
                NotifyClient(
                    replicas.router(1 + n % 2),
                    identity=f"{name}-{uuid.uuid4().hex[:6]}".encode(),
                    on_ack=recorder(name),
                )
            )
        for name, client in containers.items():
            events = [
                make_event(users[int(name[1])], "ORDER_FILLED", "CRITICAL", ["DISCORD"],
                           {"symbol": "BTC/USDT", "side": "buy", "fill_quantity": "1"})
                for _ in range(PER_CONTAINER)
            ]  # fmt: skip
            sent[name] = [(event, client.send(event)) for event in events]
        finals = {
            event.event_id: delivery.result(60)
            for pairs in sent.values()
            for event, delivery in pairs
        }
    assert {(a.status, a.delivered_via) for a in finals.values()} == {
        (AckStatus.DELIVERED, ChannelType.DISCORD)
    }
    for name, pairs in sent.items():
        mine = {event.event_id for event, _ in pairs}
        assert set(heard[name]) == mine, "a container hears of its own events only"
        finals_per_event = Counter(
            event_id for event_id, statuses in heard[name].items()
            for status in statuses if status in FINAL_STATUSES
        )  # fmt: skip
        assert set(finals_per_event.values()) == {1}, "each acked final exactly once"
    accepted = delivered_requests(clean_sandbox.state.requests("discord"))
    assert {eid: accepted[eid] for eid in finals} == {eid: 1 for eid in finals}
    # Every worker took part: the acks crossed from any worker to the sender's replica.
    for number in replicas.workers:
        assert "outcome=delivered" in replicas.logs(f"worker{number}")

    # A container that moves to the other replica and resends hears the status replayed there.
    event, _ = sent["c0"][0]  # sent through replica 1
    replayed: list = []
    with NotifyClient(replicas.router(2), identity=b"moved-c0", on_ack=replayed.append) as moved:
        ack = moved.send(event).result(30)
    assert (ack.status, ack.delivered_via) == (AckStatus.DELIVERED, ChannelType.DISCORD)
    assert (
        accepted[event.event_id]
        == 1
        == delivered_requests(clean_sandbox.state.requests("discord"))[event.event_id]
    ), "a resend is never delivered again"
