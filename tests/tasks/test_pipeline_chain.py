"""The Celery chain end to end: real worker process, real Redis broker, sandbox webhooks."""

from __future__ import annotations

import re

import pytest

from client import make_event
from proto import AckStatus, ChannelType, decode_frame
from tests.helpers import FILL_PAYLOAD, FILL_TITLE, claim_as_queued, job_of, wait_for_claim

pytestmark = pytest.mark.broker


def _webhooks(store, sandbox, user: str) -> None:
    store.directory.update(
        user,
        discord_webhook=f"{sandbox.url}/discord/api/webhooks/10/{user}",
        slack_webhook=f"{sandbox.url}/slack/services/T/B/{user}",
    )


def _order(user: str, channels, priority: str = "CRITICAL"):
    """An ORDER_FILLED whose every channel's title is FILL_TITLE."""
    channels = [(c, False) for c in channels]
    return make_event(user, "ORDER_FILLED", priority, channels, dict(FILL_PAYLOAD))


def test_critical_is_queued_then_delivered_via_the_webhook(pipeline, client, acks, new_id, store):
    user = new_id("crit")
    _webhooks(store, pipeline, user)
    event = _order(user, ["DISCORD"])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert [(a.status, a.delivered_via) for a in received] == [
        (AckStatus.QUEUED, ChannelType.ACTIVE_SESSION),  # unset on QUEUED: reads as 0
        (AckStatus.DELIVERED, ChannelType.DISCORD),
    ]
    [request] = pipeline.state.requests("discord")
    assert request["json"]["embeds"][0]["title"] == FILL_TITLE
    assert store.claims.read(user, event.event_id)["state"] == "DELIVERED"


def test_first_channel_failing_with_500_is_retried_then_escalated(
    pipeline, client, acks, new_id, store, settings
):
    user = new_id("esc")
    _webhooks(store, pipeline, user)
    pipeline.state.set_switch("discord", "server_error")
    event = _order(user, ["DISCORD", "SLACK"])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert received[-1].status == AckStatus.DELIVERED
    assert received[-1].delivered_via == ChannelType.SLACK
    log = [(e["channel"], e["kind"]) for e in store.delivery_log.read(user, event.event_id)]
    tries = settings.channel_retries + 1
    assert log == [("DISCORD", "transient")] * tries + [("SLACK", "delivered")]
    assert len(pipeline.state.requests("discord")) == tries


def test_a_link_that_retries_still_reaches_finish(pipeline, client, acks, new_id, store):
    """celery #6631: self.retry inside a chain must keep the rest of the chain (finish)."""
    user = new_id("retry")
    _webhooks(store, pipeline, user)
    pipeline.state.set_switch("discord", "server_error", times=1)
    event = _order(user, ["DISCORD", "SLACK"])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert [a.status for a in received] == [AckStatus.QUEUED, AckStatus.DELIVERED]
    assert received[-1].delivered_via == ChannelType.DISCORD
    log = [(e["channel"], e["kind"]) for e in store.delivery_log.read(user, event.event_id)]
    assert log == [("DISCORD", "transient"), ("DISCORD", "delivered")]
    assert pipeline.state.requests("slack") == [], "delivered: the later links were trimmed"


def test_rate_limited_channel_waits_for_retry_after(pipeline, client, acks, new_id, store):
    user = new_id("429")
    _webhooks(store, pipeline, user)
    pipeline.state.set_switch("slack", "rate_limit", retry_after=0.5, times=1)
    event = _order(user, ["SLACK"])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert received[-1].delivered_via == ChannelType.SLACK
    log = store.delivery_log.read(user, event.event_id)
    assert [(e["kind"], e["retry_after_s"]) for e in log] == [
        ("rate_limited", 1.0),
        ("delivered", None),
    ]


def test_every_channel_failing_permanently_gives_ack_error_naming_each_reason(
    pipeline, client, acks, new_id, store
):
    user = new_id("perm")
    _webhooks(store, pipeline, user)
    pipeline.state.set_switch("discord", "permanent")
    pipeline.state.set_switch("slack", "permanent")
    event = _order(user, ["DISCORD", "SLACK"])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert [a.status for a in received] == [AckStatus.QUEUED, AckStatus.ACK_ERROR]
    assert received[-1].error_message == (
        "DISCORD: permanent (discord HTTP 404: Unknown Webhook); "
        "SLACK: permanent (slack HTTP 404: no_service)"
    )
    assert store.claims.read(user, event.event_id)["state"] == "ACK_ERROR"


def test_no_address_on_any_channel_is_an_error_not_a_success(pipeline, client, acks, new_id):
    user = new_id("noaddr")
    event = _order(user, ["DISCORD", "SLACK"])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert received[-1].status == AckStatus.ACK_ERROR
    assert received[-1].error_message == "no address for any requested channel: DISCORD, SLACK"


def test_critical_goes_round_again_until_a_channel_delivers(pipeline, client, acks, new_id, store):
    user = new_id("rounds")
    _webhooks(store, pipeline, user)
    # Round 0: three 500s exhaust DISCORD's budget (1 try + 2 retries); round 1 delivers.
    pipeline.state.set_switch("discord", "server_error", times=3)
    event = _order(user, ["DISCORD"])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert [a.status for a in received] == [AckStatus.QUEUED, AckStatus.DELIVERED]
    rounds = [(e["round"], e["kind"]) for e in store.delivery_log.read(user, event.event_id)]
    assert rounds == [(0, "transient")] * 3 + [(1, "delivered")]
    assert store.claims.read(user, event.event_id)["round"] == "1"


def test_critical_active_session_resolves_to_the_live_web_session(
    pipeline, client, subscribe, acks, new_id, store
):
    user = new_id("active")
    _webhooks(store, pipeline, user)
    sub = subscribe(user)
    event = _order(user, ["ACTIVE_SESSION", "DISCORD"])
    client.send(event)

    assert sub.poll(10000), "the worker's publish did not reach the session"
    assert decode_frame(sub.recv_multipart()[1]).event_id == event.event_id
    # What the session server does when the browser answers {"ack": event_id}.
    store.client.set(store.keys.web_ack(user, event.event_id), "1", ex=60)

    received = acks.collect(client, event.event_id)
    assert [(a.status, a.delivered_via) for a in received][-1] == (
        AckStatus.DELIVERED,
        ChannelType.WEB,
    )
    assert pipeline.state.requests("discord") == []


def test_web_without_browser_ack_escalates_to_the_next_channel(
    pipeline, client, subscribe, acks, new_id, store, settings
):
    user = new_id("noack")
    _webhooks(store, pipeline, user)
    sub = subscribe(user)
    event = _order(user, ["WEB", "DISCORD"])
    client.send(event)

    assert sub.poll(10000), "published to the live session"
    received = acks.collect(client, event.event_id)
    assert [(a.status, a.delivered_via) for a in received][-1] == (
        AckStatus.DELIVERED,
        ChannelType.DISCORD,
    )
    log = [
        (e["channel"], e["kind"], e["detail"])
        for e in store.delivery_log.read(user, event.event_id)
    ]
    wait = settings.web_ack_timeout_s
    assert log[0] == ("WEB", "skipped", f"no ack from the web session within {wait}s")


def test_email_and_push_deliver_through_their_sdks(pipeline, client, acks, new_id, store):
    user = new_id("sdk")
    store.directory.update(
        user, email=f"{user}@example.com", push_tokens=("unregistered-old", "device-1")
    )

    email_event = _order(user, ["EMAIL"])
    client.send(email_event)
    assert acks.collect(client, email_event.event_id)[-1].delivered_via == ChannelType.EMAIL
    [mail] = pipeline.state.requests("sendgrid")
    assert mail["json"]["subject"] == FILL_TITLE

    push_event = _order(user, ["PUSH"])
    client.send(push_event)
    assert acks.collect(client, push_event.event_id)[-1].delivered_via == ChannelType.PUSH
    assert store.directory.get(user).push_tokens == ("device-1",), "UNREGISTERED token removed"
    assert {r["provider"] for r in pipeline.state.requests()} >= {"oauth", "fcm"}


def test_telegram_delivers_through_ptb(pipeline, client, acks, new_id, store):
    user = new_id("tg")
    store.telegram.link(user, "424242")
    event = _order(user, ["TELEGRAM"])
    client.send(event)

    assert acks.collect(client, event.event_id)[-1].delivered_via == ChannelType.TELEGRAM
    [sent] = [r for r in pipeline.state.requests("telegram") if r["path"].endswith("/sendMessage")]
    body = sent["json"] or {}
    assert str(body.get("chat_id")) == "424242"
    assert FILL_TITLE in body.get("text", "")


def test_telegram_blocked_by_the_user_escalates_at_once(pipeline, client, acks, new_id, store):
    user = new_id("tgblocked")
    store.telegram.link(user, "515151")
    _webhooks(store, pipeline, user)
    pipeline.state.set_switch("telegram", "permanent")
    event = _order(user, ["TELEGRAM", "SLACK"])
    client.send(event)

    assert acks.collect(client, event.event_id)[-1].delivered_via == ChannelType.SLACK
    [attempt] = [
        e for e in store.delivery_log.read(user, event.event_id) if e["channel"] == "TELEGRAM"
    ]
    assert attempt["kind"] == "permanent" and "blocked" in attempt["detail"]


def test_active_session_falls_back_to_an_active_telegram_chat(
    pipeline, client, acks, new_id, store, settings
):
    user = new_id("tgactive")
    store.telegram.link(user, "616161")
    store.telegram.mark_active(user, settings.telegram_active_s)
    store.directory.update(user, email=f"{user}@example.com")
    event = _order(user, ["ACTIVE_SESSION", "EMAIL"])
    client.send(event)

    assert acks.collect(client, event.event_id)[-1].delivered_via == ChannelType.TELEGRAM
    assert pipeline.state.requests("sendgrid") == []


def test_a_muted_channel_is_skipped_unless_it_is_the_last_for_critical(
    pipeline, client, acks, new_id, store
):
    user = new_id("muted")
    _webhooks(store, pipeline, user)
    store.directory.update(user, muted=("DISCORD:ORDER_FILLED", "SLACK:ORDER_FILLED"))
    event = _order(user, ["DISCORD", "SLACK"])
    client.send(event)

    assert acks.collect(client, event.event_id)[-1].delivered_via == ChannelType.SLACK
    log = [
        (e["channel"], e["kind"], e["detail"])
        for e in store.delivery_log.read(user, event.event_id)
    ]
    assert log == [
        ("DISCORD", "skipped", "DISCORD muted for ORDER_FILLED"),
        ("SLACK", "delivered", "delivered (slack HTTP 200)"),
    ]


def test_a_link_that_raises_hands_on_to_the_next_channel_and_ends_in_finish(
    pipeline, new_id, store, settings
):
    """The errback (link_error) path: an attempt that raises is a transient failure of its
    channel, the round goes on, and `finish` still writes a final state."""
    from dataclasses import replace

    from tasks import Carry, build_chain

    user = new_id("raises")
    event = _order(user, ["DISCORD", "SLACK"], priority="NORMAL")
    job = replace(job_of(event, settings.ingress_id), frame=b"\x20\xff\xff broken")  # decode raises
    claim_as_queued(store, job)
    build_chain(Carry(job)).apply_async()

    error = wait_for_claim(store, user, event.event_id, "ACK_ERROR")["error"]
    # The errback sees the exception as Celery rebuilt it: its class or a base of it.
    wrong_frame = r"internal error: (DecodeFailed|FrameError)"
    assert re.fullmatch(
        rf"DISCORD: transient \({wrong_frame}\); SLACK: transient \({wrong_frame}\)", error
    ), error


def test_critical_ignores_a_mute_on_its_last_channel(pipeline, client, acks, new_id, store):
    user = new_id("lastmute")
    _webhooks(store, pipeline, user)
    store.directory.update(user, muted=("SLACK:ORDER_FILLED",))
    event = _order(user, ["SLACK"])
    client.send(event)

    assert acks.collect(client, event.event_id)[-1].delivered_via == ChannelType.SLACK


def test_a_lost_chain_is_resumed_by_the_stall_sweep(pipeline, new_id, store, settings):
    """A QUEUED event whose chain vanished (broker lost it) is started again: never a silent drop."""
    import json
    import time

    from tasks import RoundEntry

    user = new_id("lost")
    _webhooks(store, pipeline, user)
    event = _order(user, ["DISCORD"])
    job = job_of(event, settings.ingress_id)
    resume = json.dumps(RoundEntry(job).to_dict())
    store.claims.claim_many(
        [(user, event.event_id, b"gone", True, resume)], settings.ingress_id, job.received_ms
    )
    # The ingress marked it QUEUED (its last sign of life an hour ago), but round 0's chain
    # never reached a worker.
    long_ago = time.time() - 3600
    assert store.claims.mark_queued_many([(user, event.event_id, resume)], long_ago) == [True]

    # The stack's scheduler (NOTIFY_STALL_S) finds it quiet, its queues empty: round 1 starts.
    claim = wait_for_claim(store, user, event.event_id, "DELIVERED")
    assert (claim["round"], claim["delivered_via"]) == ("1", "DISCORD")
    assert len(pipeline.state.requests("discord")) == 1
    assert (user, event.event_id) not in store.claims.stalled(time.time() + 1), "settled once final"


def test_worker_logs_show_no_payload(pipeline, worker, client, acks, new_id, store):
    """Celery logs a task's result, and an attempt's result carries the event: not in our logs."""
    import base64

    from proto import encode_event

    user = new_id("quiet")
    _webhooks(store, pipeline, user)
    secret = f"o-SECRET-{new_id('order')}"
    event = make_event(
        user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], {**FILL_PAYLOAD, "order_id": secret}
    )
    client.send(event)
    assert acks.collect(client, event.event_id)[-1].status == AckStatus.DELIVERED

    log = worker.log_path.read_text(errors="replace")
    assert event.event_id in log
    assert secret not in log
    assert base64.b64encode(encode_event(event)).decode() not in log
