"""Operators' views of a running stack of its own: the ingress's latency histograms, the
workers' metrics summed over their prefork pool processes, and NOTIFY_LOG_FORMAT=json: every
line of the ingress, a worker (its start-up banner and shutdown notice included) and Flower is
one JSON object, and the delivery lines name their event (and channel and outcome)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import httpx
import pytest

from client import NotifyClient, make_event
from proto import AckStatus
from tests.helpers import ROOT, free_port, wait_until

pytestmark = pytest.mark.broker


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

    # Stopped, so their shutdown lines are in the logs too.
    for process in (stack.workers[1], stack.ingress):
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    lines = _json_lines(stack.logs("worker1"))
    assert any(line["message"] == "worker: Warm shutdown (MainProcess)" for line in lines)
    banner = next(line for line in lines if line["message"].endswith(" starting"))
    assert "critical.discord" in banner["queues"] and "notify.attempt" in banner["tasks"]
    attempts = [line for line in lines if line.get("outcome") == "delivered"]
    assert {line["event_id"] for line in attempts} == {e.event_id for e in events}
    assert all(line["user_id"] == user and line["channel"] == "DISCORD" for line in attempts)
    assert {"time", "level", "name", "message"} <= set(attempts[0])
    ingress_lines = _json_lines(stack.logs("ingress"))
    assert any("ready" in line["message"] for line in ingress_lines)


def _json_lines(text: str) -> list[dict]:
    """Every non-empty line, each a JSON object (else the test fails naming the line)."""
    lines = []
    for line in filter(str.strip, text.splitlines()):
        try:
            lines.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line: {line!r}")
        assert isinstance(lines[-1], dict), line
    assert lines
    return lines


def test_flower_logs_json_lines_too(stack_env, tmp_path):
    """The Procfile's Flower command, as `notify up` runs it, with NOTIFY_LOG_FORMAT=json."""
    procfile = (ROOT / "Procfile").read_text().splitlines()
    command = next(line.split(":", 1)[1] for line in procfile if line.startswith("flower:"))
    port = free_port()
    env = os.environ | stack_env
    env |= {
        # `celery` from this Python's environment, as `notify up` finds it (CI calls pytest
        # through the venv's python, without the venv on PATH).
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}",
        "NOTIFY_LOG_FORMAT": "json",
        "NOTIFY_FLOWER_PORT": str(port),
        "NOTIFY_FLOWER_BASIC_AUTH": "ops:a-long-password",
    }
    log = tmp_path / "flower.log"
    with open(log, "wb") as out:
        flower = subprocess.Popen(
            ["sh", "-c", f"exec {command}"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_until(
                lambda: _answers(f"http://127.0.0.1:{port}/healthcheck"), "Flower to answer", 30
            )
            # A refused login and a served page: tornado's lines, if any, are JSON too.
            assert httpx.get(f"http://127.0.0.1:{port}/tasks", timeout=5).status_code == 401
            auth = ("ops", "a-long-password")
            assert httpx.get(f"http://127.0.0.1:{port}/tasks", auth=auth, timeout=5).is_success
        finally:
            flower.send_signal(signal.SIGTERM)
            flower.wait(30)
    lines = _json_lines(log.read_text(errors="replace"))
    assert any(line["message"] == f"Visit me at http://127.0.0.1:{port}" for line in lines)
    assert not any("a-long-password" in json.dumps(line) for line in lines)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).is_success
    except httpx.HTTPError:
        return False
