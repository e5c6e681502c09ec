"""Fences on the real worker: a stale round and a duplicate attempt never call a provider, finish
run twice acks the same, an event past its deadline is answered ACK_ERROR by the sweep, and a
container that lost its final ack gets it back by resending."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from client import Dealer, NotifyClient, make_event
from proto import AckStatus, ChannelType
from store import ClaimState, round_member
from tasks import Carry, RoundEntry, app, build_chain
from tests.helpers import FILL_PAYLOAD, claim_as_queued, job_of, wait_for_claim, wait_until

pytestmark = pytest.mark.broker


def _order(store, sandbox, user: str):
    store.directory.update(user, discord_webhook=f"{sandbox.url}/discord/api/webhooks/11/{user}")
    return make_event(user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], dict(FILL_PAYLOAD))


def _discord_requests(sandbox, event_id: str) -> list[dict]:
    return [r for r in sandbox.state.requests("discord") if event_id in json.dumps(r["json"])]


def _said(worker, text: str, event_id: str) -> bool:
    log = worker.log_path.read_text(errors="replace")
    return any(text in line and event_id in line for line in log.splitlines())


def test_a_stale_round_does_not_send(pipeline, worker, new_id, store, settings):
    user = new_id("stale")
    event = _order(store, pipeline, user)
    job = job_of(event, settings.ingress_id)
    claim_as_queued(store, job)
    # The event moved on to round 1 (the stall sweep, say) while round 0's chain was queued.
    assert store.claims.advance_round(user, event.event_id, 0, "{}", time.time() + 3600)
    store.due.done(round_member(user, event.event_id, 1))
    build_chain(Carry(job)).apply_async()

    wait_until(
        lambda: _said(worker, "chain stopped: event is stale", event.event_id),
        "round 0's attempt to stop at its fence",
    )
    assert _discord_requests(pipeline, event.event_id) == []
    assert store.delivery_log.read(user, event.event_id) == []
    assert store.claims.read(user, event.event_id)["state"] == ClaimState.QUEUED
    # Ended here, so the stall sweep never starts a round of it in a later test.
    store.claims.finalize(user, event.event_id, ClaimState.ACK_ERROR, 1, error="test over")
    store.claims.settled(user, event.event_id)


def test_a_duplicate_attempt_does_not_send_twice(pipeline, new_id, store, settings):
    user = new_id("dup")
    event = _order(store, pipeline, user)
    pipeline.state.set_switch("discord", "ok", latency_ms=300)
    job = job_of(event, settings.ingress_id)
    claim_as_queued(store, job)
    for _ in range(3):  # three copies of the same chain at once (redeliveries, a republish)
        build_chain(Carry(job)).apply_async()

    wait_for_claim(store, user, event.event_id, "DELIVERED")
    time.sleep(1.5)  # let the copies that waited for the send lease come back and stop
    assert len(_discord_requests(pipeline, event.event_id)) == 1


def test_finish_run_twice_acks_the_same_and_changes_nothing(
    pipeline, client, acks, new_id, store, settings
):
    user = new_id("twice")
    event = _order(store, pipeline, user)
    client.send(event)
    assert acks.collect(client, event.event_id)[-1].status == AckStatus.DELIVERED
    before = store.claims.read(user, event.event_id)

    job = replace(job_of(event, settings.ingress_id), routing_id=client.identity)
    carry = Carry(job, delivered=ChannelType.DISCORD).to_dict()
    for _ in range(2):
        app.signature("notify.finish", args=(carry,)).apply_async(queue="critical.control")
    again = [acks.collect(client, event.event_id, 10)[-1] for _ in range(2)]

    assert [(a.status, a.delivered_via) for a in again] == [
        (AckStatus.DELIVERED, ChannelType.DISCORD)
    ] * 2
    assert store.claims.read(user, event.event_id) == before


def test_an_event_past_its_deadline_is_answered_ack_error(
    pipeline, client, acks, new_id, store, settings
):
    """Its chain is lost and the deadline (NOTIFY_CRITICAL_DEADLINE_S, 20 s here) has passed:
    the scheduler's sweep answers it, naming what was tried."""
    user = new_id("late")
    event = _order(store, pipeline, user)
    long_ago = int((time.time() - settings.critical_deadline_s - 30) * 1000)
    job = replace(job_of(event, settings.ingress_id, long_ago), routing_id=client.identity)
    entry = json.dumps(RoundEntry(job).to_dict())
    # An outbox entry no scheduler can read: the chain is lost, as the test wants.
    store.claims.claim_many(
        [(user, event.event_id, client.identity, True, "{}")], settings.ingress_id, long_ago
    )
    store.claims.mark_queued_many([(user, event.event_id, entry)], time.time())
    store.delivery_log.append(
        user,
        event.event_id,
        {"channel": "DISCORD", "round": 0, "try": 0, "kind": "transient", "detail": "HTTP 500"},
    )

    (ack,) = acks.collect(client, event.event_id)
    assert ack.status == AckStatus.ACK_ERROR
    assert ack.error_message == "deadline passed before delivery; DISCORD: transient (HTTP 500)"
    assert store.claims.read(user, event.event_id)["state"] == ClaimState.ACK_ERROR


def test_a_lost_final_ack_is_recovered_by_resending(pipeline, new_id, store, settings):
    user = new_id("lostack")
    event = _order(store, pipeline, user)
    pipeline.state.set_switch("discord", "ok", latency_ms=500)
    identity = f"container-{user}".encode()
    with Dealer(settings.router_connect, identity=identity) as first:
        first.send(event)
        assert first.recv_ack(10).status == AckStatus.QUEUED
    # The container is gone when the final ack is sent: the ROUTER drops it.
    wait_for_claim(store, user, event.event_id, "DELIVERED")

    acks = []
    with NotifyClient(settings.router_connect, identity=identity, on_ack=acks.append) as again:
        again.send(event).result(15)
    assert [(a.status, a.delivered_via) for a in acks] == [
        (AckStatus.DELIVERED, ChannelType.DISCORD)
    ]
    assert len(_discord_requests(pipeline, event.event_id)) == 1
