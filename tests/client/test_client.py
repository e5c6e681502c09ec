"""The container client against the real pipeline (ingress, worker, scheduler, sandbox): many
events from several threads on one client, the asyncio client beside other tasks, acks recovered
across an ingress restart, a killed container resending its outbox, backpressure, failover."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections import defaultdict

import pytest

from client import (
    FINAL_STATUSES,
    AsyncNotifyClient,
    ClientFull,
    NotifyClient,
    OrderEventPayload,
    make_event,
)
from proto import AckStatus, ChannelType
from tests.faults.stack import delivered_requests
from tests.helpers import ROOT, free_port, wait_for_claim, wait_until

pytestmark = pytest.mark.broker

PAYLOAD = OrderEventPayload(symbol="BTC/USDT", side="buy", fill_quantity="0.5", fill_price="50000")


def _users(store, sandbox, new_id, count: int) -> list[str]:
    users = [new_id("cl") for _ in range(count)]
    for user in users:
        store.directory.update(user, discord_webhook=f"{sandbox.url}/discord/api/webhooks/9/{user}")
    return users


def _fill(user: str, **kwargs):
    return make_event(user, "ORDER_FILLED", "CRITICAL", ["DISCORD"], PAYLOAD, **kwargs)


class Heard:
    """Every ack, per event, from whichever thread reports it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.acks: dict[str, list[int]] = defaultdict(list)

    def __call__(self, ack) -> None:
        with self._lock:
            self.acks[ack.event_id].append(ack.status)

    def finals(self, event_id: str) -> int:
        return sum(status in FINAL_STATUSES for status in self.acks[event_id])


def _delivered_once_each(sandbox, events) -> None:
    accepted = delivered_requests(sandbox.state.requests("discord"))
    assert {e.event_id: accepted[e.event_id] for e in events} == {e.event_id: 1 for e in events}


def test_many_events_in_flight_from_several_threads_on_one_client(
    pipeline, settings, store, new_id
):
    users = _users(store, pipeline, new_id, 5)
    heard = Heard()
    per_thread: dict[int, list] = {}
    with NotifyClient(
        settings.router_connect, identity=new_id("c").encode(), on_ack=heard
    ) as client:

        def produce(number: int) -> None:
            events = [_fill(users[n % 5]) for n in range(25)]
            per_thread[number] = [(e, client.send(e)) for e in events]

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        sent = [pair for pairs in per_thread.values() for pair in pairs]
        outcomes = {event.event_id: delivery.result(60) for event, delivery in sent}
    assert {(a.status, a.delivered_via) for a in outcomes.values()} == {
        (AckStatus.DELIVERED, ChannelType.DISCORD)
    }
    assert all(heard.finals(event_id) == 1 for event_id in outcomes)
    assert all(heard.acks[event_id][0] == AckStatus.QUEUED for event_id in outcomes)
    _delivered_once_each(pipeline, [event for event, _ in sent])
    stats = client.stats()
    assert (stats.accepted, stats.delivered, stats.in_flight, stats.gave_up) == (100, 100, 0, 0)


def test_the_asyncio_client_works_beside_other_tasks(pipeline, settings, store, new_id):
    pipeline.state.set_switch("discord", "ok", latency_ms=400)
    users = _users(store, pipeline, new_id, 3)
    events = [_fill(users[n % 3]) for n in range(30)]

    async def scenario():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        other = asyncio.create_task(ticker())
        async with AsyncNotifyClient(
            settings.router_connect, identity=new_id("a").encode()
        ) as client:
            waiting = [client.send_nowait(e) for e in events[1:]]
            await asyncio.gather(*(w.queued for w in waiting))
            ticks_at_queued = ticks
            first = await client.send(events[0], timeout=60)
            rest = await asyncio.gather(*waiting)
            ticks_at_final = ticks
        other.cancel()
        return [first, *rest], ticks_at_queued, ticks_at_final

    acks, at_queued, at_final = asyncio.run(scenario())
    assert {(a.status, a.delivered_via) for a in acks} == {
        (AckStatus.DELIVERED, ChannelType.DISCORD)
    }
    assert at_final > at_queued > 0, "the other task ran while the client waited"
    _delivered_once_each(pipeline, events)


def test_acks_are_recovered_after_the_ingress_restarts_mid_flight(
    own_ingress, clean_sandbox, store, new_id
):
    clean_sandbox.state.set_switch("discord", "ok", latency_ms=1500)
    users = _users(store, clean_sandbox, new_id, 4)
    events = [_fill(users[n % 4]) for n in range(20)]
    heard = Heard()
    client = NotifyClient(
        own_ingress.router, identity=new_id("r").encode(), on_ack=heard, resend_first_s=0.5
    )
    try:
        deliveries = [client.send(e) for e in events]
        for delivery in deliveries:
            delivery.queued.result(20)
        own_ingress.kill()  # the final acks are relayed while it is down
        for event in events:
            wait_for_claim(store, event.user_id, event.event_id, "DELIVERED")
        assert not any(d.done() for d in deliveries)
        own_ingress.start()
        acks = [d.result(30) for d in deliveries]
    finally:
        client.close(timeout=0)
    assert {(a.status, a.delivered_via) for a in acks} == {
        (AckStatus.DELIVERED, ChannelType.DISCORD)
    }
    assert all(heard.finals(e.event_id) == 1 for e in events)
    _delivered_once_each(clean_sandbox, events)


def test_a_killed_container_resends_its_outbox_and_every_event_ends_once(
    pipeline, settings, store, new_id, tmp_path
):
    pipeline.state.set_switch("discord", "ok", latency_ms=2000)
    [user] = _users(store, pipeline, new_id, 1)
    prefix, count = new_id("fill"), 10
    outbox, identity = str(tmp_path / "outbox.db"), new_id("container")
    script = [sys.executable, str(ROOT / "tests" / "client" / "container.py"),
              settings.router_connect, identity, outbox]  # fmt: skip
    first = subprocess.Popen(
        [*script, "send", user, prefix, str(count)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert first.stdout.readline().strip() == "sent"
    first.kill()  # SIGKILL: no flush, no goodbye
    first.wait(10)
    again = subprocess.run(
        [*script, "recover"], cwd=ROOT, capture_output=True, text=True, timeout=90
    )
    assert again.returncode == 0, again.stderr
    outcome = json.loads(again.stdout.splitlines()[-1])
    ids = [f"{prefix}-{n}" for n in range(count)]
    assert outcome == {event_id: "DELIVERED via DISCORD" for event_id in ids}
    accepted = delivered_requests(pipeline.state.requests("discord"))
    assert {event_id: accepted[event_id] for event_id in ids} == {event_id: 1 for event_id in ids}
    from client.outbox import Outbox

    left = Outbox(outbox)
    assert left.load() == [], "final events leave the outbox"
    left.close()


def test_backpressure_at_the_limit_blocks_or_raises_and_drops_informational_first(
    pipeline, settings, store, new_id
):
    pipeline.state.set_switch("discord", "ok", latency_ms=1000)
    users = _users(store, pipeline, new_id, 3)
    with NotifyClient(
        settings.router_connect, identity=new_id("bp").encode(), max_in_flight=2
    ) as client:
        first, second = client.send(_fill(users[0])), client.send(_fill(users[1]))
        with pytest.raises(ClientFull, match="2 events still waiting"):
            client.send(_fill(users[2]), timeout=0.1)
        info = client.send(make_event(users[0], "STRATEGY_LOG", "INFORMATIONAL", payload={}))
        assert info.done() and info.result() is None
        wait_until(lambda: client.stats().informational_dropped == 1, "the drop to be counted")
        third = client.send(_fill(users[2]))  # blocks until one of the first two is final
        assert first.done() or second.done()
        acks = [d.result(30) for d in (first, second, third)]
    assert [a.status for a in acks] == [AckStatus.DELIVERED] * 3
    with NotifyClient(
        settings.router_connect, identity=new_id("bp").encode(), max_in_flight=1,
        block_when_full=False,
    ) as client:  # fmt: skip
        kept = client.send(_fill(users[0]))
        with pytest.raises(ClientFull, match="1 events are waiting"):
            client.send(_fill(users[1]))
        assert kept.result(30).status == AckStatus.DELIVERED


def test_a_container_moves_to_the_next_ingress_when_one_is_down(pipeline, settings, store, new_id):
    [user] = _users(store, pipeline, new_id, 1)
    dead = f"tcp://127.0.0.1:{free_port()}"
    with NotifyClient(
        [dead, settings.router_connect], identity=new_id("fo").encode(), failover_s=0.3
    ) as client:
        ack = client.send(_fill(user)).result(30)
    assert (ack.status, ack.delivered_via) == (AckStatus.DELIVERED, ChannelType.DISCORD)
