"""Routing decisions in-process: `EventRouter.handle` on the real Redis with a recording
enqueue (tests/ingress/conftest.py), no ingress process, no sockets, no worker. What the
sockets and the real pipeline add is proved end to end in test_routing.py."""

from __future__ import annotations

import pytest

from client import make_event
from ingress import BatchResult, Inbound
from proto import (
    AckStatus,
    ChannelType,
    EventAck,
    MessageType,
    Priority,
    UserEvent,
    decode_frame,
    encode_event,
    topic_for,
)
from store import ClaimState
from tasks import Preference, parse_channel_list

#: The routing id of the container every event of these tests comes from.
CONTAINER = b"container-router"
ALERT = {"symbol": "BTC/USDT", "condition": "BTC > 50000"}


def arriving(event: UserEvent, routing_id: bytes = CONTAINER) -> Inbound:
    """The event as the ROUTER hands it over: the sender's routing id and the 0x20 frame."""
    return Inbound(routing_id, encode_event(event))


def answers(result: BatchResult) -> list[tuple[bytes, EventAck]]:
    """The batch's acks, decoded, with the routing id each goes to."""
    return [(routing_id, decode_frame(frame)) for routing_id, frame in result.acks]


def ack(event_id: str, status: int, via: int | None = None, error: str = "") -> EventAck:
    made = EventAck(event_id=event_id, status=status, error_message=error)
    if via is not None:
        made.delivered_via = via
    return made


def nobody_listens(user_id: str) -> bool:
    return False


def critical(user: str) -> UserEvent:
    return make_event(user, "ORDER_FILLED", "CRITICAL", [("DISCORD", False)], {"x": "1"})


# -- what each priority does -----------------------------------------------------------------------


@pytest.mark.parametrize("listening", [True, False], ids=["subscriber", "no subscriber"])
def test_informational_is_published_and_never_enqueued_nor_claimed(
    listening: bool, router, enqueued, store, new_id
) -> None:
    user = new_id("info")
    event = make_event(user, "INDICATOR_UPDATED", "INFORMATIONAL", payload={"name": "RSI"})
    item = arriving(event)

    result = router.handle([item], lambda _: listening)

    assert result.publishes == [(topic_for(user), item.frame)], "XPUB drops it if nobody listens"
    assert result.acks == []
    assert enqueued.jobs == []
    assert store.claims.read(user, event.event_id) == {}


def test_critical_is_enqueued_once_and_acked_queued(router, enqueued, store, new_id) -> None:
    user = new_id("crit")
    event = critical(user)

    result = router.handle([arriving(event)], lambda _: True)  # a live session changes nothing

    assert [job.event_id for job in enqueued.jobs] == [event.event_id]
    assert answers(result) == [(CONTAINER, ack(event.event_id, AckStatus.QUEUED))]
    assert result.publishes == []
    claim = store.claims.read(user, event.event_id)
    assert claim["state"] == ClaimState.QUEUED
    assert claim["resume"].startswith("{"), "the round entry the broker answered with"


@pytest.mark.parametrize("first", ["WEB", "ACTIVE_SESSION"])
def test_normal_with_a_live_subscriber_takes_the_fast_path(
    first: str, router, enqueued, store, new_id
) -> None:
    user = new_id("fast")
    event = make_event(
        user, "ALERT_TRIGGERED", "NORMAL", [(first, False), ("DISCORD", False)], ALERT
    )
    item = arriving(event)

    result = router.handle([item], lambda who: who == user)

    delivered = ack(event.event_id, AckStatus.DELIVERED, ChannelType.WEB)
    assert answers(result) == [(CONTAINER, delivered)]
    assert result.publishes == [(topic_for(user), item.frame)]
    assert enqueued.jobs == []
    claim = store.claims.read(user, event.event_id)
    assert (claim["state"], claim["delivered_via"]) == (ClaimState.DELIVERED, "WEB")
    [entry] = store.delivery_log.read(user, event.event_id)
    assert (entry["channel"], entry["kind"]) == ("WEB", "delivered")


def test_normal_without_a_subscriber_is_enqueued(router, enqueued, store, new_id) -> None:
    user = new_id("queued")
    event = make_event(
        user, "ALERT_TRIGGERED", "NORMAL", [("WEB", False), ("DISCORD", False)], ALERT
    )

    result = router.handle([arriving(event)], nobody_listens)

    assert [job.event_id for job in enqueued.jobs] == [event.event_id]
    assert answers(result) == [(CONTAINER, ack(event.event_id, AckStatus.QUEUED))]
    assert result.publishes == []


def test_normal_fast_path_needs_web_first(router, enqueued, store, new_id) -> None:
    user = new_id("notfirst")
    event = make_event(user, "POSITION_UPDATED", "NORMAL", [("SLACK", False), ("WEB", False)])

    result = router.handle([arriving(event)], lambda who: who == user)

    [job] = enqueued.jobs
    assert [p.channel for p in job.plan] == [ChannelType.SLACK, ChannelType.WEB]
    assert answers(result) == [(CONTAINER, ack(event.event_id, AckStatus.QUEUED))]
    assert result.publishes == []


def test_normal_fast_path_respects_a_web_mute(router, enqueued, store, new_id) -> None:
    user = new_id("webmute")
    store.directory.update(user, muted=("WEB:ORDER_FILLED",))
    event = make_event(user, "ORDER_FILLED", "NORMAL", [("WEB", False), ("DISCORD", False)])

    result = router.handle([arriving(event)], lambda who: who == user)

    assert [job.event_id for job in enqueued.jobs] == [event.event_id]
    assert answers(result) == [(CONTAINER, ack(event.event_id, AckStatus.QUEUED))]
    assert result.publishes == [], "muted: nothing published to the session"


# -- resends ---------------------------------------------------------------------------------------


def test_a_resend_replays_the_state_and_is_not_enqueued_again(
    router, enqueued, store, new_id
) -> None:
    user = new_id("resend")
    event = critical(user)
    item = arriving(event)
    router.handle([item], nobody_listens)

    queued = router.handle([item], nobody_listens)
    store.claims.finalize(user, event.event_id, ClaimState.DELIVERED, 0, "DISCORD")
    delivered = router.handle([arriving(event, b"container-reconnected")], nobody_listens)

    assert len(enqueued.jobs) == 1
    assert answers(queued) == [(CONTAINER, ack(event.event_id, AckStatus.QUEUED))]
    assert answers(delivered) == [
        (b"container-reconnected", ack(event.event_id, AckStatus.DELIVERED, ChannelType.DISCORD))
    ]
    assert queued.publishes == delivered.publishes == []


def test_a_resend_in_the_same_batch_is_enqueued_once(router, enqueued, new_id) -> None:
    event = critical(new_id("twice"))
    item = arriving(event)

    result = router.handle([item, item], nobody_listens)

    assert len(enqueued.jobs) == 1
    assert answers(result) == [(CONTAINER, ack(event.event_id, AckStatus.QUEUED))], (
        "the resend finds the claim PENDING: no ack for it yet"
    )


def test_a_fast_path_resend_replays_delivered_without_publishing_again(
    router, enqueued, new_id
) -> None:
    user = new_id("fastresend")
    item = arriving(make_event(user, "ALERT_TRIGGERED", "NORMAL", [("WEB", False)], ALERT))
    router.handle([item], lambda who: who == user)

    again = router.handle([item], lambda who: who == user)

    event_id = decode_frame(item.frame).event_id
    assert answers(again) == [(CONTAINER, ack(event_id, AckStatus.DELIVERED, ChannelType.WEB))]
    assert again.publishes == []
    assert enqueued.jobs == []


# -- a failed publish ------------------------------------------------------------------------------


def test_a_failed_enqueue_releases_every_claim_of_the_batch_and_sends_no_ack(
    router, enqueued, store, new_id
) -> None:
    user = new_id("brokerdown")
    events = [critical(user) for _ in range(3)]
    batch = [arriving(event) for event in events]
    enqueued.failing = True

    result = router.handle(batch, nobody_listens)

    assert [job.event_id for job in enqueued.jobs] == [event.event_id for event in events], (
        "the batch's chains are handed over together"
    )
    assert result.acks == []
    assert [store.claims.read(user, event.event_id) for event in events] == [{}, {}, {}]

    enqueued.failing = False  # the container resends once the broker is back
    resent = router.handle(batch, nobody_listens)

    assert [job.event_id for job in enqueued.jobs[3:]] == [event.event_id for event in events]
    assert answers(resent) == [(CONTAINER, ack(e.event_id, AckStatus.QUEUED)) for e in events]


# -- refusals --------------------------------------------------------------------------------------

#: (what is wrong with the event, how it is made so, the ACK_ERROR text)
INVALID = [
    pytest.param(lambda e: setattr(e, "user_id", ""), "user_id: missing", id="no user"),
    pytest.param(
        lambda e: setattr(e, "event_type", 99), "event_type: unknown EventType value 99", id="enum"
    ),
    pytest.param(
        lambda e: setattr(e.delivery, "priority", 7),
        "delivery.priority: unknown Priority value 7",
        id="priority",
    ),
    pytest.param(
        lambda e: setattr(e, "payload", b"[1, 2]"),
        "payload: must be a JSON object, got list",
        id="payload",
    ),
    pytest.param(lambda e: e.ClearField("delivery"), "delivery: missing", id="no delivery"),
]


@pytest.mark.parametrize(("spoil", "error"), INVALID)
def test_an_invalid_event_with_a_usable_id_gets_ack_error_naming_the_field(
    spoil, error: str, router, enqueued, store, new_id
) -> None:
    event = critical(new_id("invalid"))
    spoil(event)

    result = router.handle([arriving(event)], nobody_listens)

    assert answers(result) == [(CONTAINER, ack(event.event_id, AckStatus.ACK_ERROR, error=error))]
    assert result.publishes == []
    assert enqueued.jobs == []
    assert store.claims.read(event.user_id, event.event_id) == {}


def test_a_repeated_channel_gets_ack_error_naming_it(router, enqueued, store, new_id) -> None:
    user = new_id("repeated")
    channels = [("DISCORD", False), ("SLACK", False), ("DISCORD", True)]
    event = make_event(user, "ORDER_FILLED", "CRITICAL", channels)

    result = router.handle([arriving(event)], nobody_listens)

    error = "delivery.channels[2].channel: DISCORD repeated (each channel may be named once)"
    assert answers(result) == [(CONTAINER, ack(event.event_id, AckStatus.ACK_ERROR, error=error))]
    assert enqueued.jobs == []
    assert store.claims.read(user, event.event_id) == {}


def test_what_cannot_be_answered_is_not_answered(router, enqueued, new_id) -> None:
    valid = arriving(critical(new_id("valid")))
    no_id = critical(new_id("noid"))
    no_id.event_id = ""
    unanswerable = [
        b"",  # empty frame
        b"\x8f\x13\x00garbage\xff",  # unknown type byte
        valid.frame[:-1],  # truncated protobuf
        b"\x21" + b"\x0a\x03abc",  # an EventAck sent to the ingress
        encode_event(no_id),  # no usable event id: nobody to answer
    ]

    result = router.handle([Inbound(CONTAINER, frame) for frame in unanswerable], nobody_listens)

    assert (result.acks, result.publishes, enqueued.jobs) == ([], [], [])


# -- the job -----------------------------------------------------------------------------------------


def test_the_job_carries_the_exact_received_frame_and_the_plan(
    router, enqueued, settings, store, new_id
) -> None:
    user = new_id("job")
    event = make_event(user, "ORDER_FILLED", "CRITICAL", [("SLACK", True), ("DISCORD", False)])
    # The fields out of their usual order: a frame re-encoded from the parsed event would differ.
    rest = UserEvent()
    rest.CopyFrom(event)
    rest.ClearField("user_id")
    frame = bytes([MessageType.USER_EVENT]) + rest.SerializeToString()
    frame += UserEvent(user_id=user).SerializeToString()
    assert encode_event(decode_frame(frame)) != frame

    router.handle([Inbound(b"container-job", frame)], nobody_listens)

    [job] = enqueued.jobs
    assert job.frame == frame
    assert job.plan == (
        Preference(ChannelType.SLACK, only_if_active=True),
        Preference(ChannelType.DISCORD),
    )
    assert (job.user_id, job.event_id, job.priority) == (user, event.event_id, Priority.CRITICAL)
    assert (job.ingress_id, job.routing_id, job.round) == (settings.ingress_id, b"container-job", 0)
    assert job.received_ms == int(store.claims.read(user, event.event_id)["received_ms"])


@pytest.mark.parametrize(
    ("priority", "setting"),
    [("CRITICAL", "default_channels_critical"), ("NORMAL", "default_channels_normal")],
)
def test_without_channels_the_plan_is_the_default_route(
    priority: str, setting: str, router, enqueued, settings, new_id
) -> None:
    event = make_event(new_id("default"), "ORDER_FILLED", priority)

    router.handle([arriving(event)], nobody_listens)

    [job] = enqueued.jobs
    assert job.plan == parse_channel_list(getattr(settings, setting))
    assert job.plan, "the default route names at least one channel"
