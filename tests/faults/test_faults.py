"""CRITICAL events survive real faults: a SIGKILLed worker, a SIGKILLed ingress, broker restarts
(the worker stays up), a provider answering 500, and all of them together. Containers resend
until final; every event must end DELIVERED, and a provider may see an event twice at most
once per send in flight when a worker was killed."""

from __future__ import annotations

import time
import uuid

import pytest

from client import make_event
from settings import connect_address
from tests.faults.stack import Containers, Stack, delivered_requests

#: Events per scenario: enough to keep both workers busy through each fault.
EVENTS = 60
#: Concurrency of each fault-stack worker: sends that may be in flight when one is killed.
IN_FLIGHT_PER_WORKER = 2

pytestmark = pytest.mark.broker


def _events(store, sandbox, count: int = EVENTS):
    users = [f"fault-{uuid.uuid4().hex[:8]}" for _ in range(8)]
    for user in users:
        store.directory.update(user, discord_webhook=f"{sandbox.url}/discord/api/webhooks/7/{user}")
    payload = {"symbol": "BTC/USDT", "side": "sell", "fill_quantity": "1", "fill_price": "9"}
    return [
        make_event(users[n % len(users)], "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], payload)
        for n in range(count)
    ]


def _containers(stack: Stack) -> Containers:
    return Containers(connect_address(stack.env["NOTIFY_INGRESS_ROUTER"]))


def _duplicates(sandbox, events) -> int:
    accepted = delivered_requests(sandbox.state.requests("discord"))
    return sum(max(0, accepted[e.event_id] - 1) for e in events)


def _all_delivered(containers: Containers, events) -> None:
    counts = containers.counts()
    assert counts == {"DELIVERED": len(events)}, counts


def test_a_killed_worker_s_events_are_redelivered(fault_stack, fault_store, clean_sandbox):
    clean_sandbox.state.set_switch("discord", "ok", latency_ms=150)
    events = _events(fault_store, clean_sandbox)
    containers = _containers(fault_stack)
    try:
        containers.send(events)
        containers.wait(1.5)
        Stack.kill(fault_stack.workers[1])
        killed_at = time.monotonic()
        fault_stack.start_worker(1)
        done = containers.run_until_final(60)
    finally:
        containers.close()
    _all_delivered(containers, events)
    # The killed worker's in-flight attempts ran again after the visibility timeout (25 s).
    assert done - killed_at < 45
    assert _duplicates(clean_sandbox, events) <= IN_FLIGHT_PER_WORKER


def test_a_killed_ingress_loses_nothing_and_starts_no_second_chain(
    fault_stack, fault_store, clean_sandbox
):
    clean_sandbox.state.set_switch("discord", "ok", latency_ms=100)
    events = _events(fault_store, clean_sandbox)
    containers = _containers(fault_stack)
    try:
        containers.send(events[: EVENTS // 2])
        containers.wait(0.3)
        Stack.kill(fault_stack.ingress)
        containers.send(events[EVENTS // 2 :])  # into the void: the containers resend
        containers.wait(1.0)
        fault_stack.start_ingress()
        containers.run_until_final(60)
    finally:
        containers.close()
    _all_delivered(containers, events)
    assert _duplicates(clean_sandbox, events) == 0


def test_the_worker_stays_up_through_five_broker_restarts(fault_stack, fault_store, clean_sandbox):
    """kombu's channel close after a Redis restart killed the worker (docs/upstream.md)."""
    clean_sandbox.state.set_switch("discord", "server_error", latency_ms=100, times=40)
    events = _events(fault_store, clean_sandbox)
    containers = _containers(fault_stack)
    try:
        containers.send(events)
        for _ in range(5):
            containers.wait(1.5)  # busy: sends in flight, links parked, retries due
            fault_stack.restart_broker(down_s=1.0)
        containers.run_until_final(90)
    finally:
        containers.close()
    assert fault_stack.alive() == {name: True for name in fault_stack.alive()}
    for number in fault_stack.workers:
        assert "Unrecoverable error" not in fault_stack.logs(f"worker{number}")
    _all_delivered(containers, events)


def test_every_fault_together(fault_stack, fault_store, clean_sandbox):
    clean_sandbox.state.set_switch("discord", "ok", latency_ms=100)
    events = _events(fault_store, clean_sandbox)
    containers = _containers(fault_stack)
    try:
        containers.send(events)
        containers.wait(1.0)
        Stack.kill(fault_stack.workers[2])
        clean_sandbox.state.set_switch("discord", "server_error", latency_ms=100)
        containers.wait(1.0)
        Stack.kill(fault_stack.ingress)
        fault_stack.restart_redis(down_s=1.0)
        if fault_stack.broker_url != fault_stack.redis_url:
            fault_stack.restart_broker(down_s=0)
        fault_stack.start_ingress()
        fault_stack.start_worker(2)
        containers.wait(2.0)
        clean_sandbox.state.set_switch("discord", "ok", latency_ms=100)
        containers.run_until_final(90)
    finally:
        containers.close()
    _all_delivered(containers, events)
    assert _duplicates(clean_sandbox, events) <= IN_FLIGHT_PER_WORKER
