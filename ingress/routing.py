"""Routing of a drained batch of ROUTER frames: parse, validate, claim in one Redis pipeline, route.

  INFORMATIONAL -> XPUB `[user_id\\x00, frame]` (dropped by XPUB when nobody listens); no Redis, no ack.
  NORMAL        -> XPUB + DELIVERED via WEB when the user has a live subscriber here and the first
                   preference is ACTIVE_SESSION or WEB; else the Celery chain + QUEUED.
  CRITICAL      -> always the Celery chain; QUEUED once the broker holds it.
  resend        -> the claim's current state replayed as an EventAck.
  invalid       -> ACK_ERROR "<field>: <problem>" when the event id is usable; else counted and logged.
The result is a list of frames to write; only the zmq loop thread touches the sockets.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from proto import (
    AckStatus,
    ChannelType,
    EventAck,
    EventType,
    FrameError,
    Limits,
    Priority,
    UserEvent,
    decode_frame,
    encode_ack,
    topic_for,
    usable_event_id,
    validate_event,
)
from settings import Settings
from store import Claim, ClaimState, Seen, Store
from tasks import build_round, channel_plan, new_job

from . import metrics

__all__ = ["BatchResult", "EventRouter", "Inbound"]

log = logging.getLogger(__name__)

#: A publish to the broker is retried for about a second, then the claim is released.
PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.3,
    "interval_max": 0.3,
}
FAST_PATH_FIRST = {"ACTIVE_SESSION", "WEB"}


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from the ROUTER: the sender's routing id and its frame."""

    routing_id: bytes
    frame: bytes


@dataclass(slots=True)
class BatchResult:
    """What the loop must write: acks to ROUTER peers and publishes on XPUB."""

    acks: list[tuple[bytes, bytes]] = field(default_factory=list)
    publishes: list[tuple[bytes, bytes]] = field(default_factory=list)


def _ack(event_id: str, status: int, via: str = "", error: str = "") -> bytes:
    ack = EventAck(event_id=event_id, status=status, error_message=error)
    if via:
        ack.delivered_via = ChannelType.Value(via)
    return encode_ack(ack)


class EventRouter:
    """Turns batches of frames into effects; Redis and broker work, no sockets."""

    def __init__(self, settings: Settings, store: Store, enqueue: Callable | None = None) -> None:
        self._settings = settings
        self._store = store
        self._limits = Limits(settings.max_payload_bytes, settings.max_frame_bytes)
        self._enqueue = enqueue or self._enqueue_chain

    def handle(self, batch: list[Inbound], has_subscriber: Callable[[str], bool]) -> BatchResult:
        result = BatchResult()
        queued: list[tuple[Inbound, UserEvent]] = []
        for inbound in batch:
            event = self._parse(inbound, result)
            if event is None:
                continue
            if event.delivery.priority == Priority.INFORMATIONAL:
                result.publishes.append((topic_for(event.user_id), inbound.frame))
                route = "xpub" if has_subscriber(event.user_id) else "dropped"
                metrics.EVENTS.labels("INFORMATIONAL", route).inc()
            else:
                queued.append((inbound, event))
        if queued:
            self._route_claimed(queued, has_subscriber, result)
        return result

    def _parse(self, inbound: Inbound, result: BatchResult) -> UserEvent | None:
        """A valid UserEvent, or None after answering/counting the problem."""
        try:
            event = decode_frame(inbound.frame)
        except FrameError as err:
            metrics.FRAMES_REJECTED.labels(type(err).__name__, "no").inc()
            log.warning("rejected frame from %s: %s", inbound.routing_id.hex(), err)
            return None
        if not isinstance(event, UserEvent):
            metrics.FRAMES_REJECTED.labels("UnexpectedAck", "no").inc()
            log.warning(
                "rejected frame from %s: an EventAck is not accepted here", inbound.routing_id.hex()
            )
            return None
        try:
            validate_event(event, len(inbound.frame), self._limits)
        except FrameError as err:
            event_id = usable_event_id(event)
            metrics.FRAMES_REJECTED.labels(type(err).__name__, "yes" if event_id else "no").inc()
            log.warning("event_id=%s rejected: %s", event_id or "-", err)
            if event_id:
                result.acks.append(
                    (inbound.routing_id, _ack(event_id, AckStatus.ACK_ERROR, error=str(err)))
                )
            return None
        return event

    def _route_claimed(self, queued, has_subscriber, result: BatchResult) -> None:
        now_ms = int(time.time() * 1000)
        claims = self._store.claims.claim_many(
            [(e.user_id, e.event_id, i.routing_id) for i, e in queued],
            self._settings.ingress_id,
            now_ms,
        )
        fast: list[tuple[Inbound, UserEvent]] = []
        enqueued: list[tuple[Inbound, UserEvent, str]] = []
        broker_down = False
        fresh = [
            (i, e, c) for (i, e), c in zip(queued, claims, strict=True) if c.seen != Seen.KNOWN
        ]
        for (inbound, event), claim in zip(queued, claims, strict=True):
            if claim.seen == Seen.KNOWN:
                self._replay(inbound, event, claim, result)
                metrics.EVENTS.labels(Priority.Name(event.delivery.priority), "resend").inc()
        plans = [self._plan(event) for _, event, _ in fresh]
        fast_ok = self._fast_path_allowed([e for _, e, _ in fresh], plans, has_subscriber)
        for (inbound, event, claim), plan, take_fast in zip(fresh, plans, fast_ok, strict=True):
            priority = Priority.Name(event.delivery.priority)
            if take_fast:
                fast.append((inbound, event))
                metrics.EVENTS.labels(priority, "xpub").inc()
            elif not broker_down and (
                resume := self._enqueue(event, inbound.routing_id, claim.received_ms, plan)
            ):
                enqueued.append((inbound, event, resume))
                metrics.EVENTS.labels(priority, "queued").inc()
            else:
                # No ack: the container resends and the released claim lets it through. Once one
                # publish failed, the rest of the batch fails at once (the loop must not stall).
                broker_down = True
                self._store.claims.release(event.user_id, event.event_id)
                metrics.EVENTS.labels(priority, "publish_failed").inc()
        self._deliver_fast(fast, result)
        try:
            marked = self._store.claims.mark_queued_many(
                [(e.user_id, e.event_id, resume) for _, e, resume in enqueued], time.time()
            )
        except Exception:
            # The chains are with the broker; a resend replays the state once Redis answers.
            log.exception(
                "marking %d claims QUEUED failed; no QUEUED acks this batch", len(enqueued)
            )
            marked = [False] * len(enqueued)
        for (inbound, event, _), ok in zip(enqueued, marked, strict=True):
            if ok:
                result.acks.append((inbound.routing_id, _ack(event.event_id, AckStatus.QUEUED)))

    def _plan(self, event: UserEvent) -> list[dict]:
        return channel_plan(
            event, self._settings.default_channels_normal, self._settings.default_channels_critical
        )

    def _fast_path_allowed(
        self, events: list[UserEvent], plans: list[list[dict]], has_subscriber
    ) -> list[bool]:
        """NORMAL, a live subscriber here, first preference ACTIVE_SESSION or WEB, WEB not muted
        for the event type (the mutes of every candidate read in one pipeline)."""
        candidates = [
            event.delivery.priority == Priority.NORMAL
            and has_subscriber(event.user_id)
            and bool(plan)
            and plan[0]["channel"] in FAST_PATH_FIRST
            for event, plan in zip(events, plans, strict=True)
        ]
        wanted = [event.user_id for event, ok in zip(events, candidates, strict=True) if ok]
        mutes = iter(self._store.directory.muted_many(wanted))
        return [
            bool(ok) and f"WEB:{EventType.Name(event.event_type)}" not in next(mutes)
            for event, ok in zip(events, candidates, strict=True)
        ]

    def _deliver_fast(self, fast, result: BatchResult) -> None:
        """NORMAL to a live subscriber: publish, record DELIVERED via WEB, ack."""
        if not fast:
            return
        pipe = self._store.client.pipeline(transaction=False)
        for inbound, event in fast:
            result.publishes.append((topic_for(event.user_id), inbound.frame))
            self._store.claims.finalize(
                event.user_id, event.event_id, ClaimState.DELIVERED, 0, "WEB", pipe=pipe
            )
            result.acks.append(
                (inbound.routing_id, _ack(event.event_id, AckStatus.DELIVERED, via="WEB"))
            )
            entry = {
                "channel": "WEB",
                "round": 0,
                "try": 0,
                "kind": "delivered",
                "detail": "ingress fast path: live subscriber",
            }
            self._store.delivery_log.append(event.user_id, event.event_id, entry, pipe=pipe)
        pipe.execute()

    def _replay(
        self, inbound: Inbound, event: UserEvent, claim: Claim, result: BatchResult
    ) -> None:
        if claim.state == ClaimState.PENDING:
            log.info(
                "event_id=%s resend while another publish holds the claim; no ack yet",
                event.event_id,
            )
            return
        status = AckStatus.Value(claim.state.value)
        result.acks.append(
            (
                inbound.routing_id,
                _ack(event.event_id, status, via=claim.delivered_via, error=claim.error),
            )
        )

    def _enqueue_chain(
        self, event: UserEvent, routing_id: bytes, received_ms: int, plan
    ) -> str | None:
        """Publish round 0; the round entry (JSON) that can restart it, or None on failure."""
        job = new_job(event, self._settings.ingress_id, routing_id, received_ms)
        try:
            build_round(job, plan).apply_async(retry=True, retry_policy=PUBLISH_RETRY_POLICY)
        except Exception:
            log.exception("event_id=%s broker publish failed; claim released", event.event_id)
            return None
        return json.dumps({"job": job, "plan": plan})
