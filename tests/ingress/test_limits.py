"""Limits and authorization in the router, in-process on the real Redis: a new event over its
sender's or its user's token bucket, or past its user's cap on events in flight, is answered
ACK_ERROR "rate limited"; resends cost nothing; a key sends only for the user it may."""

from __future__ import annotations

from ingress import EventRouter, Inbound
from ingress.limits import Buckets
from proto import AckStatus, decode_frame, encode_event
from store import Grant, Role
from tests.ingress.test_router import critical


def _router(settings, store, enqueued, grants=None, **limits) -> EventRouter:
    tight = settings.model_copy(update=limits)
    return EventRouter(tight, store, enqueue=enqueued, grant_of=(grants or {}).get)


def _acks(result, events) -> list:
    """The batch's acks in the order of `events` (a refusal is written before the QUEUED acks)."""
    by_event = {ack.event_id: ack for ack in (decode_frame(f) for _, f in result.acks)}
    return [by_event[e.event_id] for e in events if e.event_id in by_event]


def test_a_sender_over_its_burst_is_refused_and_its_resends_are_not(
    settings, store, enqueued, new_id
) -> None:
    router = _router(settings, store, enqueued, rate_per_key=0.001, burst_per_key=3)
    user = new_id("burst")
    events = [critical(user) for _ in range(5)]
    first = _acks(
        router.handle([Inbound(b"c1", encode_event(e)) for e in events], lambda u: False), events
    )
    assert [a.status for a in first] == [AckStatus.QUEUED] * 3 + [AckStatus.ACK_ERROR] * 2
    assert first[-1].error_message == "rate limited: more than 0.001 events/s from this sender"
    assert store.claims.read(user, events[-1].event_id) == {}, "a refused event keeps no claim"
    assert len(enqueued.jobs) == 3

    again = _acks(router.handle([Inbound(b"c1", encode_event(events[0]))], lambda u: False), events)
    assert [a.status for a in again] == [AckStatus.QUEUED], "a resend is answered, not limited"
    stranger = critical(new_id("o"))
    other = _acks(
        router.handle([Inbound(b"c2", encode_event(stranger))], lambda u: False), [stranger]
    )
    assert [a.status for a in other] == [AckStatus.QUEUED], "another sender has its own bucket"


def test_a_user_over_its_burst_is_refused_whoever_sends(settings, store, enqueued, new_id) -> None:
    router = _router(settings, store, enqueued, rate_per_user=0.001, burst_per_user=2)
    user = new_id("popular")
    events = [critical(user) for _ in range(3)]
    frames = [Inbound(f"c{n}".encode(), encode_event(e)) for n, e in enumerate(events)]
    acks = _acks(router.handle(frames, lambda u: False), events)
    assert [a.status for a in acks] == [AckStatus.QUEUED, AckStatus.QUEUED, AckStatus.ACK_ERROR]
    assert acks[-1].error_message == f"rate limited: more than 0.001 events/s for user {user}"


def test_a_user_with_too_many_events_in_flight_is_refused(
    settings, store, enqueued, new_id
) -> None:
    router = _router(settings, store, enqueued, max_live_per_user=2)
    user = new_id("busy")
    events = [critical(user) for _ in range(3)]
    acks = _acks(
        router.handle([Inbound(b"c", encode_event(e)) for e in events], lambda u: False), events
    )
    assert [a.status for a in acks] == [AckStatus.QUEUED, AckStatus.QUEUED, AckStatus.ACK_ERROR]
    assert acks[-1].error_message == f"rate limited: user {user} has 2 events in flight"


def test_a_key_may_send_only_for_its_user(settings, store, enqueued, new_id) -> None:
    alice, bob = new_id("alice"), new_id("bob")
    grants = {
        "key-alice": Grant("key-alice", Role.CONTAINER, alice),
        "key-svc": Grant("key-svc", Role.SERVICE, "risk"),
    }
    router = _router(settings, store, enqueued, grants)
    theirs, revoked, service = critical(bob), critical(alice), critical(bob)
    acks = _acks(
        router.handle(
            [
                Inbound(b"a", encode_event(theirs), "key-alice"),
                Inbound(b"g", encode_event(revoked), "key-gone"),
                Inbound(b"s", encode_event(service), "key-svc"),
            ],
            lambda u: False,
        ),
        [theirs, revoked, service],
    )
    assert [(a.status, a.error_message) for a in acks] == [
        (AckStatus.ACK_ERROR, f"not authorized for user {bob}"),
        (AckStatus.ACK_ERROR, "key revoked"),
        (AckStatus.QUEUED, ""),
    ]
    assert store.claims.read(bob, theirs.event_id) == {}


def test_buckets_refill_at_their_rate_and_stay_bounded() -> None:
    buckets = Buckets(rate=2.0, burst=2, max_buckets=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [True, True, False]
    assert buckets.take("a", now=0.5) is True  # one token back after half a second
    for name in ("b", "c", "d"):
        buckets.take(name, now=1.0)
    assert len(buckets._buckets) == 3  # the idlest went
