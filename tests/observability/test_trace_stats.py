"""`notify trace` tells an event's story from the latency receipts, step by step with times;
`notify stats` shows what the pipeline holds now, workers and schedulers included."""

from __future__ import annotations

import json

import pytest

from client import NotifyClient, make_event
from proto import AckStatus
from tests.test_cli import ORDER, notify

pytestmark = pytest.mark.broker


def test_trace_shows_every_step_with_times(pipeline, settings, store, stack_env, new_id):
    user = new_id("traced")
    store.directory.update(
        user,
        discord_webhook=f"{pipeline.url}/discord/api/webhooks/3/{user}",
        slack_webhook=f"{pipeline.url}/slack/services/T/B/{user}",
    )
    pipeline.state.set_switch("discord", "server_error", times=10)  # Discord fails: escalates
    event = make_event(user, "ORDER_FILLED", "CRITICAL", ["DISCORD", "SLACK"], json.loads(ORDER))
    with NotifyClient(settings.router_connect, identity=new_id("t").encode()) as client:
        assert client.send(event).result(60).status == AckStatus.DELIVERED

    done = notify(stack_env, "trace", event.event_id, "--json")  # the user found by a scan
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    assert (story["user_id"], story["state"], story["delivered_via"]) == (
        user,
        "DELIVERED",
        "SLACK",
    )
    assert (story["event_type"], story["priority"]) == ("ORDER_FILLED", "CRITICAL")
    steps = story["steps"]
    kinds = [step["what"] for step in steps]
    # The QUEUED ack follows the chain's publish: a fast broker (RabbitMQ) may start the first
    # attempt before the ingress has written it, and the story is told in the order it happened.
    assert kinds[:2] == ["received", "claimed"] and kinds[-1] == "final"
    assert "queued" in kinds
    answered = [step for step in steps if step["what"] == "answered"]
    assert [s["details"]["channel"] for s in answered][-1] == "SLACK"
    assert {s["details"]["kind"] for s in answered if s["details"]["channel"] == "DISCORD"} == {
        "transient"
    }
    assert all(s["details"]["latency_s"] is not None for s in answered), "provider times kept"
    assert len([k for k in kinds if k == "attempt"]) == len(answered)
    times = [step["at"] for step in steps]
    assert times == sorted(times)

    text = notify(stack_env, "trace", event.event_id, "--user", user)
    lines = text.stdout.splitlines()
    assert lines[0].startswith(f"event {event.event_id}  user {user}  ORDER_FILLED CRITICAL")
    assert any("claimed" in line for line in lines)
    assert any("QUEUED ack" in line and "+" in line for line in lines)
    assert any("DISCORD: transient" in line and "(provider " in line for line in lines)
    assert lines[-1].endswith("final ack: DELIVERED via SLACK")

    unknown = notify(stack_env, "trace", "no-such-event")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "notify: event 'no-such-event' has no user; give --user"


def test_stats_shows_queues_attempts_and_who_is_alive(pipeline, stack_env):
    done = notify(stack_env, "stats")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "open critical" in out and "due set" in out
    assert "queues        channel     critical    normal" in out
    for channel in ("control", "web", "telegram", "email", "push", "discord", "slack"):
        assert f"\n              {channel:10} " in out
    assert "attempts " in out and "running now" in out
    assert "worker        live " in out, out
    assert "scheduler     live " in out, out
    assert notify(stack_env, "alive", "worker", "--name", "test-").returncode == 0
    gone = notify(stack_env, "alive", "scheduler", "--name", "nobody-here")
    assert gone.returncode == 1
    assert gone.stderr.strip() == "notify: no scheduler named like 'nobody-here' beat within 30s"
