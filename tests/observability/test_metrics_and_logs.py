"""Operators' views of a running stack of its own: the ingress's latency histograms, the
workers' metrics summed over their prefork pool processes, and NOTIFY_LOG_FORMAT=json lines
from the ingress and a worker, each naming its event (and channel and outcome where known)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from client import NotifyClient, make_event
from proto import AckStatus
from tests.helpers import free_port, wait_until


@pytest.fixture
def watched(own_stack):
    ports = {"ingress": free_port(), "worker": free_port()}
    stack = own_stack(
        workers=1,
        NOTIFY_METRICS_PORT=str(ports["ingress"]),
        NOTIFY_WORKER_METRICS_PORT=str(ports["worker"]),
        NOTIFY_LOG_FORMAT="json",
    )
    return stack, ports


def _metrics(port: int) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def _value(text: str, prefix: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_metrics_and_json_logs_of_a_running_stack(watched, clean_sandbox):
    stack, ports = watched
    store = stack.store()
    user = f"obs-{uuid.uuid4().hex[:6]}"
    store.directory.update(
        user, discord_webhook=f"{clean_sandbox.url}/discord/api/webhooks/6/{user}"
    )
    events = [
        make_event(user, "ORDER_FILLED", "CRITICAL", ["DISCORD"], {"symbol": "BTC/USDT"})
        for _ in range(12)
    ]
    with NotifyClient(stack.router(), identity=b"observed") as client:
        acks = [client.send(event).result(60) for event in events]
    assert {a.status for a in acks} == {AckStatus.DELIVERED}

    ingress = wait_until(
        lambda: (
            (t := _metrics(ports["ingress"]))
            and _value(t, 'notify_ingress_end_to_end_seconds_count{status="DELIVERED"}') >= 12
            and t
        ),
        "the ingress's end-to-end histogram",
    )
    assert _value(ingress, 'notify_ingress_enqueue_seconds_count{priority="CRITICAL"}') >= 12
    worker = _metrics(ports["worker"])
    assert (
        _value(worker, 'notify_worker_attempts_total{channel="DISCORD",outcome="delivered"}') == 12
    )
    assert _value(worker, 'notify_worker_provider_seconds_count{channel="DISCORD"}') == 12
    assert (
        _value(
            worker, 'notify_worker_end_to_end_seconds_count{priority="CRITICAL",status="DELIVERED"}'
        )
        == 12
    )

    lines = [
        json.loads(line) for line in stack.logs("worker1").splitlines() if line.startswith("{")
    ]
    attempts = [line for line in lines if line.get("outcome") == "delivered"]
    assert {line["event_id"] for line in attempts} == {e.event_id for e in events}
    assert all(line["user_id"] == user and line["channel"] == "DISCORD" for line in attempts)
    assert {"time", "level", "name", "message"} <= set(attempts[0])
    ingress_lines = [
        json.loads(line) for line in stack.logs("ingress").splitlines() if line.strip()
    ]
    assert any("ready" in line["message"] for line in ingress_lines), "every ingress line is JSON"
