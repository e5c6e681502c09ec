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


def test_stats_says_what_the_due_set_waits_for_and_who_is_stale_or_dead(stack_env, new_id):
    """A store of its own (key prefix), so the counts are exactly what the test put there."""
    import os
    import re
    import subprocess
    import sys
    import time
    from dataclasses import replace

    import redis

    from proto import ChannelType, encode_event
    from store import DEAD_AFTER_S, STALE_AFTER_S, Store, link_member, round_member
    from tasks.contract import Carry, Job, Link, ParkedLink, Preference, RoundEntry
    from tests.test_cli import ROOT

    prefix = f"{new_id('statsprefix')}:"
    env = {**stack_env, "NOTIFY_KEY_PREFIX": prefix}
    store = Store(stack_env["NOTIFY_REDIS_URL"], prefix)
    now = time.time()
    job = Job(
        frame=encode_event(make_event("u", "ORDER_FILLED", "CRITICAL", ["DISCORD"], {})),
        user_id="u",
        event_id="e",
        priority=2,
        ingress_id="i",
        routing_id=b"r",
        received_ms=int(now * 1000),
        plan=(Preference(ChannelType.DISCORD),),
    )
    parked = {  # what each entry waits for -> (its link, its carry)
        "retrying": (Link(0, tries=2), Carry(job)),
        "web": (Link(0, sent_at=now), Carry(job)),
        "person": (Link(0, accepted_at=now), Carry(job)),
        "digest": (Link(0), replace(Carry(job), held_until=now + 600)),
    }
    try:
        for n, (link, carry) in enumerate(parked.values()):
            entry = json.dumps(ParkedLink(carry, link).to_dict())
            store.due.put(link_member("u", f"e{n}", 0, 0), entry, now + 600)
        store.due.put(round_member("u", "e9", 1), json.dumps(RoundEntry(job).to_dict()), now + 60)
        store.liveness.beat("worker", "w-live@h", now)
        store.liveness.beat("worker", "w-stale@h", now - STALE_AFTER_S - 1)
        store.liveness.beat("scheduler", "s-dead", now - DEAD_AFTER_S - 1)

        out = notify(env, "stats").stdout
        assert re.search(r"due set +5   oldest entry due in 5\d\.\ds\n", out), out  # the round
        assert (
            "1 rounds waiting, 1 held for a digest, 1 waiting for a WEB ack, "
            "1 waiting for a person's ack"
        ) in out
        assert ", 1 retrying (waiting out a backoff" in out
        assert "worker        live   w-live@h" in out
        assert "worker        stale  w-stale@h" in out
        assert "scheduler     dead   s-dead" in out

        watching = subprocess.Popen(
            [sys.executable, "-m", "cli", "stats", "--watch", "--every", "0.3"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(4)
        watching.terminate()
        shown = watching.communicate(timeout=10)[0]
        assert shown.count("due set              5") >= 2, "--watch refreshes"
    finally:
        client = redis.Redis.from_url(stack_env["NOTIFY_REDIS_URL"])
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
