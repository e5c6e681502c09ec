"""The ingress end to end: real ZMQ sockets, a real ingress process, real Redis, real worker.

Routing decisions on their own (which event is published, enqueued, replayed or refused) are
tested in-process in test_router.py; these prove the sockets and the real pipeline around them."""

from __future__ import annotations

import json

import pytest
import zmq

from client import make_event
from proto import AckStatus, ChannelType, Priority, UserEvent, decode_frame, encode_event

pytestmark = pytest.mark.broker


def test_informational_reaches_a_subscriber_without_ack(pipeline, client, subscribe, acks, new_id):
    user = new_id("info")
    sub = subscribe(user)
    event = make_event(
        user, "INDICATOR_UPDATED", "INFORMATIONAL", payload={"indicator_name": "RSI"}
    )
    client.send(event)

    assert sub.poll(5000), "the live session got nothing"
    topic, frame = sub.recv_multipart()
    assert topic == user.encode() + b"\x00"
    received = decode_frame(frame)
    assert isinstance(received, UserEvent) and received.event_id == event.event_id
    assert acks.drain(client, quiet_s=1.0) == []


def test_informational_for_unsubscribed_user_is_dropped_without_ack(
    pipeline, client, subscribe, acks, new_id, store
):
    listener, nobody = new_id("listener"), new_id("nobody")
    sub = subscribe(listener)
    event = make_event(nobody, "STRATEGY_LOG", "INFORMATIONAL", payload={"message": "tick"})
    client.send(event)

    assert not sub.poll(1000), "another user's session must not see it"
    assert acks.drain(client, quiet_s=1.0) == []
    assert store.claims.read(nobody, event.event_id) == {}, "INFORMATIONAL does no Redis work"


def test_normal_with_live_session_takes_the_fast_path(
    pipeline, client, subscribe, acks, new_id, store
):
    user = new_id("fast")
    sub = subscribe(user)
    event = make_event(
        user,
        "ALERT_TRIGGERED",
        "NORMAL",
        [("WEB", False), ("DISCORD", False)],
        {"symbol": "BTC/USDT", "condition": "BTC > 50000"},
    )
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert [(a.status, a.delivered_via) for a in received] == [
        (AckStatus.DELIVERED, ChannelType.WEB)
    ]
    assert sub.poll(5000)
    assert decode_frame(sub.recv_multipart()[1]).event_id == event.event_id
    assert store.claims.read(user, event.event_id)["state"] == "DELIVERED"
    assert pipeline.state.requests("discord") == []


def test_normal_without_session_is_queued_then_delivered(pipeline, client, acks, new_id, store):
    user = new_id("queued")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/1/{user}")
    event = make_event(
        user,
        "ALERT_TRIGGERED",
        "NORMAL",
        [("WEB", False), ("DISCORD", False)],
        {"symbol": "ETH/USDT", "condition": "ETH < 3000"},
    )
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert [a.status for a in received] == [AckStatus.QUEUED, AckStatus.DELIVERED]
    assert received[-1].delivered_via == ChannelType.DISCORD
    log = store.delivery_log.read(user, event.event_id)
    assert [(e["channel"], e["kind"]) for e in log] == [
        ("WEB", "skipped"),
        ("DISCORD", "delivered"),
    ]


def test_resent_event_is_delivered_once_and_its_ack_replayed(pipeline, client, acks, new_id, store):
    user = new_id("resend")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/2/{user}")
    event = make_event(
        user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], {"symbol": "BTC/USDT"}
    )
    client.send(event)
    client.send(event)  # a resend racing the first: must not deliver twice
    first = acks.collect(client, event.event_id)
    assert first[-1].status == AckStatus.DELIVERED

    client.send(event)  # after the final status: the same answer, replayed
    replay = acks.collect(client, event.event_id, timeout_s=5)
    assert [(a.status, a.delivered_via) for a in replay] == [
        (AckStatus.DELIVERED, ChannelType.DISCORD)
    ]
    acks.drain(client, quiet_s=1.0)
    assert len(pipeline.state.requests("discord")) == 1


def test_malformed_frames_get_the_right_answers_and_ingress_keeps_serving(
    pipeline, client, acks, new_id, store, settings
):
    user = new_id("bad")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/3/{user}")

    def frame(event_id: str, **changes) -> bytes:
        event = make_event(user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], {"symbol": "X"})
        event.event_id = event_id
        for name, value in changes.items():
            setattr(event, name, value) if name != "priority" else setattr(
                event.delivery, "priority", value
            )
        return encode_event(event)

    valid = frame("bad-valid")
    no_delivery = make_event(user, "ORDER_FILLED", "CRITICAL", event_id="bad-nodelivery")
    no_delivery.ClearField("delivery")
    oversized = make_event(
        user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], event_id="bad-oversized"
    )
    oversized.payload = json.dumps({"pad": "x" * settings.max_frame_bytes}).encode()
    bad_frames = [
        b"\x8f\x13\x00garbage\xff",  # random bytes: unknown type byte, no id
        b"\x7f" + valid[1:],  # unknown type byte in front of a good event
        valid[: len(valid) // 2],  # truncated protobuf
        b"",  # empty frame
        frame("bad-nouser", user_id=""),  # empty user_id -> ACK_ERROR
        frame(""),  # empty event_id -> nobody to answer
        frame("bad-enum", event_type=99),  # unknown enum value -> ACK_ERROR
        frame("bad-priority", priority=7),  # unknown priority -> ACK_ERROR
        frame("bad-json", payload=b"{not json"),  # non-JSON payload -> ACK_ERROR
        frame("bad-array", payload=b"[1, 2]"),  # JSON but not an object -> ACK_ERROR
        encode_event(no_delivery),  # delivery missing -> ACK_ERROR
        encode_event(oversized),  # oversized frame -> ACK_ERROR naming the limit
        b"\x21" + b"\x0a\x03abc",  # an EventAck sent to the ingress: refused
    ]
    for bad in bad_frames:
        client.send_frame(bad)
    client.send_frame(valid)

    answered = {}
    for ack in acks.drain(client, quiet_s=2.0):
        answered.setdefault(ack.event_id, []).append(ack)
    errors = {
        eid: a[0].error_message for eid, a in answered.items() if a[0].status == AckStatus.ACK_ERROR
    }
    assert errors == {
        "bad-nouser": "user_id: missing",
        "bad-enum": "event_type: unknown EventType value 99",
        "bad-priority": "delivery.priority: unknown Priority value 7",
        "bad-json": errors.get("bad-json", ""),
        "bad-array": "payload: must be a JSON object, got list",
        "bad-nodelivery": "delivery: missing",
        "bad-oversized": errors.get("bad-oversized", ""),
    }
    assert errors["bad-json"].startswith("payload: not JSON")
    assert "NOTIFY_MAX_FRAME_BYTES=262144" in errors["bad-oversized"]
    assert [a.status for a in answered["bad-valid"]] == [AckStatus.QUEUED, AckStatus.DELIVERED]
    assert "" not in answered, "an event without a usable id cannot be answered"
    # Nothing invalid was claimed or delivered.
    assert store.claims.read(user, "bad-enum") == {}
    assert len(pipeline.state.requests("discord")) == 1
    assert pipeline.state.requests("discord")[0]["path"].endswith(user)


def test_a_container_that_left_does_not_block_the_ingress(
    pipeline, settings, client, acks, new_id, store
):
    user = new_id("gone")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/4/{user}")
    context = zmq.Context.instance()
    leaving = context.socket(zmq.DEALER)
    leaving.setsockopt(zmq.LINGER, 1000)
    leaving.connect(settings.router_connect)
    leaving.send(encode_event(make_event(user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)])))
    leaving.close()  # its acks are counted and dropped

    event = make_event(user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)])
    client.send(event)
    assert acks.collect(client, event.event_id)[-1].status == AckStatus.DELIVERED
    assert Priority.Name(event.delivery.priority) == "CRITICAL"


def test_malformed_relay_messages_do_not_stop_the_ingress(
    pipeline, settings, client, acks, new_id, store
):
    from tasks.queues import WEB_PUBLISH_QUEUE, ingress_queue
    from tasks.relay import _publish

    for junk in (b"", b"\x01", b"\x01\x05ab", b"\x02\x00", b"\x07nonsense", b"\x01\x01a\x20"):
        _publish(ingress_queue(settings.ingress_id), junk)
    _publish(WEB_PUBLISH_QUEUE, b"\x02" + b"\x00" * 8 + b"\x03a\x00b\x20")
    # Acks to a connected container whose receipt header, or status, the histogram cannot read.
    from proto import AckRelay, EventAck, encode_ack, encode_relay
    from tasks.relay import RECEIVED_AT_HEADER

    odd = encode_ack(EventAck(event_id="e-odd", status=99))
    queue = ingress_queue(settings.ingress_id)
    for frame, header in (
        (odd, "1767225600.5"),
        (odd, "soon"),
        (encode_ack(EventAck(event_id="e")), "x"),
    ):
        _publish(
            queue, encode_relay(AckRelay(client.identity, frame)), {RECEIVED_AT_HEADER: header}
        )

    user = new_id("afterjunk")
    store.directory.update(user, slack_webhook=f"{pipeline.url}/slack/services/T/B/{user}")
    event = make_event(user, "ORDER_FILLED", "CRITICAL", [("SLACK", False)])
    client.send(event)
    assert acks.collect(client, event.event_id)[-1].status == AckStatus.DELIVERED


def test_normal_fast_path_respects_a_web_mute(pipeline, client, subscribe, acks, new_id, store):
    user = new_id("webmute")
    sub = subscribe(user)
    store.directory.update(
        user,
        muted=("WEB:ORDER_FILLED",),
        discord_webhook=f"{pipeline.url}/discord/api/webhooks/6/{user}",
    )
    event = make_event(user, "ORDER_FILLED", "NORMAL", [("WEB", False), ("DISCORD", False)])
    client.send(event)

    received = acks.collect(client, event.event_id)
    assert [(a.status, a.delivered_via) for a in received][-1] == (
        AckStatus.DELIVERED,
        ChannelType.DISCORD,
    )
    assert not sub.poll(500), "muted: nothing published to the session"


def test_only_subscribe_and_unsubscribe_messages_count_as_presence(
    pipeline, settings, store, new_id
):
    """An XSUB may send the XPUB anything upstream: only a first byte of 1 or 0 is a (un)subscribe."""
    import time

    user = new_id("forged")
    xsub = zmq.Context.instance().socket(zmq.XSUB)
    xsub.setsockopt(zmq.LINGER, 0)
    xsub.connect(settings.xpub_connect)
    try:
        xsub.send(b"\x02" + user.encode() + b"\x00")
        xsub.send(b"\x01" + user.encode() + b"\x00")
        deadline = time.monotonic() + 10
        while not store.presence.is_present(user):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        xsub.send(b"\x07" + user.encode() + b"\x00")  # not an unsubscribe: presence stays
        time.sleep(1.0)
        assert store.presence.is_present(user)
        xsub.send(b"\x00" + user.encode() + b"\x00")
        deadline = time.monotonic() + 10
        while store.presence.is_present(user):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        xsub.close()
