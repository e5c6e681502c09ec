"""Routing of a drained batch of ROUTER frames: parse, validate, claim in one Redis pipeline, route.

  INFORMATIONAL -> XPUB `[user_id\\x00, frame]` (dropped by XPUB when nobody listens); no Redis, no ack.
  NORMAL        -> XPUB + DELIVERED via WEB when the user has a live subscriber here and the first
                   preference is ACTIVE_SESSION or WEB; else the Celery chain + QUEUED.
  CRITICAL      -> always the Celery chain; QUEUED once the broker holds it.
  resend        -> the claim's current state replayed as an EventAck.
  invalid       -> ACK_ERROR "<field>: <problem>" when the event id is usable; else counted and logged.
  not its user  -> ACK_ERROR "not authorized for user …" (a CURVE key may send for its own user
                   only, or for any as a platform service); no state of that user is touched.
  too many      -> ACK_ERROR "rate limited: …" for a new event over its sender's or its user's
                   token bucket (ingress/limits.py), or past the user's cap on events in flight.
The result is a list of frames to write; only the zmq loop thread touches the sockets.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from logsetup import event_context
from proto import (
    SUPERSEDING_TYPES,
    AckStatus,
    ChannelType,
    EventType,
    FrameError,
    Limits,
    Priority,
    UserEvent,
    ack_frame,
    decode_frame,
    topic_for,
    usable_event_id,
    validate_event,
)
from settings import Settings
from store import Claim, ClaimState, Grant, Seen, Store, mute_key, round_member
from tasks import (
    Carry,
    ChainProducer,
    Job,
    Preference,
    RoundEntry,
    app,
    apply_chain,
    build_chain,
    channel_plan,
    parse_channel_list,
    send_ack,
)

from . import metrics
from .limits import RateLimits
from .supersede import supersede

__all__ = ["BatchResult", "EventRouter", "Inbound"]

log = logging.getLogger(__name__)

#: A publish to the broker gets about a second (two tries on a connection whose socket
#: operations time out after PUBLISH_SOCKET_TIMEOUT_S), then the claim is released.
PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0,
    "interval_max": 0,
}
PUBLISH_SOCKET_TIMEOUT_S = 0.5
#: First preferences that let a NORMAL event take the XPUB fast path.
FAST_PATH_FIRST = (ChannelType.ACTIVE_SESSION, ChannelType.WEB)
#: What the delivery log says of a fast-path delivery.
FAST_PATH_DETAIL = "ingress fast path: live subscriber"

#: Publishes the round 0 of a batch's events together; True once the broker holds them all
#: (False: none can be counted on).
Enqueue = Callable[[list[Job]], bool]
#: Most broker commands buffered before a flush (one per chain: its first link's message).
PUBLISH_BATCH_COMMANDS = 1000


@dataclass(frozen=True, slots=True)
class Inbound:
    """One message from the ROUTER: the sender's routing id and its frame, and the sender's
    CURVE public key (Z85) when the ingress authenticates peers."""

    routing_id: bytes
    frame: bytes
    key: str | None = None

    @property
    def sender(self) -> str | bytes:
        """Whose rate limit it counts against: the key, else the connection."""
        return self.key if self.key is not None else self.routing_id


@dataclass(slots=True)
class BatchResult:
    """What the loop must write: acks to ROUTER peers and publishes on XPUB."""

    acks: list[tuple[bytes, bytes]] = field(default_factory=list)
    publishes: list[tuple[bytes, bytes]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Queued:
    """A valid NORMAL or CRITICAL event of the batch, with its plan."""

    inbound: Inbound
    event: UserEvent
    plan: tuple[Preference, ...]


class EventRouter:
    """Turns batches of frames into effects; Redis and broker work, no sockets.

    `enqueue` publishes the round 0 of several events (default: their Celery chains, in one
    round trip) and says whether the broker took them; tests pass a recording one.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        enqueue: Enqueue | None = None,
        grant_of: Callable[[str], Grant | None] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        #: The grant of a sender's key (the ingress's Gate); unused on an unauthenticated ingress.
        self._grant_of = grant_of or (lambda key: None)
        self._rates = RateLimits(
            settings.rate_per_key,
            settings.burst_per_key,
            settings.rate_per_user,
            settings.burst_per_user,
        )
        self._limits = Limits(settings.max_payload_bytes, settings.max_frame_bytes)
        self._defaults = {
            Priority.NORMAL: parse_channel_list(settings.default_channels_normal),
            Priority.CRITICAL: parse_channel_list(settings.default_channels_critical),
        }
        self._enqueue = enqueue or self._enqueue_chains
        self._producer = None
        self._declared = False

    def handle(self, batch: list[Inbound], has_subscriber: Callable[[str], bool]) -> BatchResult:
        result = BatchResult()
        queued: list[_Queued] = []
        heard = 0  # INFORMATIONAL with a live subscriber here (counted once per batch)
        informational = 0
        for inbound in batch:
            event = self._parse(inbound, result)
            if event is None or not self._authorized(inbound, event, result):
                continue
            if event.delivery.priority == Priority.INFORMATIONAL:
                result.publishes.append((topic_for(event.user_id), inbound.frame))
                informational += 1
                heard += has_subscriber(event.user_id)
            else:
                plan = channel_plan(
                    event, self._defaults[Priority.NORMAL], self._defaults[Priority.CRITICAL]
                )
                queued.append(_Queued(inbound, event, plan))
        if informational:
            metrics.EVENTS.labels("INFORMATIONAL", "xpub").inc(heard)
            metrics.EVENTS.labels("INFORMATIONAL", "dropped").inc(informational - heard)
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
            with event_context(event_id or "-"):
                log.warning("rejected: %s", err)
            if event_id:
                frame = ack_frame(event_id, AckStatus.ACK_ERROR, error=str(err))
                result.acks.append((inbound.routing_id, frame))
            return None
        return event

    def _authorized(self, inbound: Inbound, event: UserEvent, result: BatchResult) -> bool:
        """May the sender's key send for this event's user? (Always, unauthenticated.)"""
        if inbound.key is None:
            return True
        grant = self._grant_of(inbound.key)
        if grant is not None and grant.may_send_for(event.user_id):
            return True
        reason = "key revoked" if grant is None else f"not authorized for user {event.user_id}"
        metrics.FRAMES_REJECTED.labels("NotAuthorized", "yes").inc()
        with event_context(event.event_id, event.user_id):
            log.warning("refused from key %s…: %s", inbound.key[:8], reason)
        result.acks.append(
            (inbound.routing_id, ack_frame(event.event_id, AckStatus.ACK_ERROR, error=reason))
        )
        return False

    def _refuse(self, item: _Queued, reason: str, result: BatchResult) -> None:
        """ACK_ERROR for a new event refused by a limit; its claim (if any) goes."""
        event = item.event
        metrics.FRAMES_REJECTED.labels("RateLimited", "yes").inc()
        with event_context(event.event_id, event.user_id):
            log.warning("refused: %s", reason)
        result.acks.append(
            (item.inbound.routing_id, ack_frame(event.event_id, AckStatus.ACK_ERROR, error=reason))
        )

    def _route_claimed(self, queued: list[_Queued], has_subscriber, result: BatchResult) -> None:
        now_ms = int(time.time() * 1000)
        # Each new event's round 0 goes into the outbox with its claim (store/claims.py).
        jobs = [self._job(item, now_ms) for item in queued]
        entries = [json.dumps(RoundEntry(job).to_dict()) for job in jobs]
        claims = self._store.claims.claim_many(
            [
                (q.event.user_id, q.event.event_id, q.inbound.routing_id, job.critical, entry)
                for q, job, entry in zip(queued, jobs, entries, strict=True)
            ],
            self._settings.ingress_id,
            now_ms,
            self._settings.max_live_per_user,
        )
        claimed_at = time.time()
        fresh: list[tuple[_Queued, Job, str]] = []
        for item, job, entry, claim in zip(queued, jobs, entries, claims, strict=True):
            if claim.seen == Seen.KNOWN:
                self._replay(item, claim, result)
                metrics.EVENTS.labels(Priority.Name(item.event.delivery.priority), "resend").inc()
            elif claim.seen == Seen.LIMITED:
                cap = self._settings.max_live_per_user
                reason = f"rate limited: user {item.event.user_id} has {cap} events in flight"
                self._refuse(item, reason, result)
            elif reason := self._rates.refusal(item.inbound.sender, item.event.user_id):
                self._store.claims.release(item.event.user_id, item.event.event_id, job.critical)
                self._refuse(item, reason, result)
            else:
                if claim.seen == Seen.RECLAIMED:  # a first-release claim: its own receipt time
                    job = replace(job, received_ms=claim.received_ms)
                    entry = json.dumps(RoundEntry(job).to_dict())
                fresh.append((item, job, entry))
        fresh = self._without_late_updates(fresh, result)
        fast_ok = self._fast_path_allowed([item for item, _, _ in fresh], has_subscriber)
        fast = [item for (item, _, _), take_fast in zip(fresh, fast_ok, strict=True) if take_fast]
        to_queue = [
            fresh_one for fresh_one, take_fast in zip(fresh, fast_ok, strict=True) if not take_fast
        ]
        # The burst's chains go to the broker together: one round trip, not one per event.
        published = bool(to_queue) and self._enqueue([job for _, job, _ in to_queue])
        if not published:
            # No ack: the container resends and the released claim lets it through.
            for item, job, _ in to_queue:
                self._store.claims.release(item.event.user_id, item.event.event_id, job.critical)
        route = "queued" if published else "publish_failed"
        for item in fast:
            metrics.EVENTS.labels(Priority.Name(item.event.delivery.priority), "xpub").inc()
        for item, _, _ in to_queue:
            metrics.EVENTS.labels(Priority.Name(item.event.delivery.priority), route).inc()
        self._deliver_fast(fast, result)
        if published:
            queued = [(item, entry) for item, _, entry in to_queue]
            self._mark_queued(queued, now_ms, claimed_at, result)

    def _without_late_updates(
        self, fresh: list[tuple[_Queued, Job, str]], result: BatchResult
    ) -> list[tuple[_Queued, Job, str]]:
        """Updates about a thing (proto.supersede_key) take their place as the newest before any
        chain is published, so no worker can be sending one that arrived late: that one is
        answered ACK_ERROR "superseded by <id>" here and never queued, and an older one still in
        flight is ended."""
        about = [
            (item.event, item.inbound.routing_id)
            for item, _, _ in fresh
            if item.event.event_type in SUPERSEDING_TYPES
        ]
        if not about:
            return fresh
        late = supersede(self._store, about, result.acks, _ack_superseded)
        for item, _, _ in fresh:
            if item.event.event_id in late:  # its round 0 waits in the outbox: not any more
                self._store.due.done(round_member(item.event.user_id, item.event.event_id, 0))
        return [one for one in fresh if one[0].event.event_id not in late]

    def _job(self, item: _Queued, received_ms: int) -> Job:
        event = item.event
        return Job(
            frame=item.inbound.frame,
            user_id=event.user_id,
            event_id=event.event_id,
            priority=event.delivery.priority,
            ingress_id=self._settings.ingress_id,
            routing_id=item.inbound.routing_id,
            received_ms=received_ms,
            plan=item.plan,
        )

    def _mark_queued(
        self,
        enqueued: list[tuple[_Queued, str]],
        received_ms: int,
        claimed_at: float,
        result: BatchResult,
    ) -> None:
        try:
            marked = self._store.claims.mark_queued_many(
                [(q.event.user_id, q.event.event_id, resume) for q, resume in enqueued],
                time.time(),
                claimed_at,
            )
        except Exception:
            # The chains are with the broker; a resend replays the state once Redis answers.
            log.exception(
                "marking %d claims QUEUED failed; no QUEUED acks this batch", len(enqueued)
            )
            return
        took = time.time() - received_ms / 1000
        for (item, _), ok in zip(enqueued, marked, strict=True):
            if ok:
                frame = ack_frame(item.event.event_id, AckStatus.QUEUED)
                result.acks.append((item.inbound.routing_id, frame))
                metrics.ENQUEUE.labels(Priority.Name(item.event.delivery.priority)).observe(took)

    def _fast_path_allowed(self, items: list[_Queued], has_subscriber) -> list[bool]:
        """NORMAL, a live subscriber here, first preference ACTIVE_SESSION or WEB, WEB not muted
        for the event type (the mutes of every candidate read in one pipeline)."""
        candidates = [
            item.event.delivery.priority == Priority.NORMAL
            and has_subscriber(item.event.user_id)
            and bool(item.plan)
            and item.plan[0].channel in FAST_PATH_FIRST
            for item in items
        ]
        wanted = [item.event.user_id for item, ok in zip(items, candidates, strict=True) if ok]
        mutes = iter(self._store.directory.muted_many(wanted))
        web = ChannelType.Name(ChannelType.WEB)
        return [
            ok and mute_key(web, EventType.Name(item.event.event_type)) not in next(mutes)
            for item, ok in zip(items, candidates, strict=True)
        ]

    def _deliver_fast(self, fast: list[_Queued], result: BatchResult) -> None:
        """NORMAL to a live subscriber: publish, record DELIVERED via WEB, ack."""
        if not fast:
            return
        self._store.record_fast_deliveries(
            [(item.event.user_id, item.event.event_id) for item in fast], FAST_PATH_DETAIL
        )
        for item in fast:
            result.publishes.append((topic_for(item.event.user_id), item.inbound.frame))
            frame = ack_frame(item.event.event_id, AckStatus.DELIVERED, ChannelType.WEB)
            result.acks.append((item.inbound.routing_id, frame))

    def _replay(self, item: _Queued, claim: Claim, result: BatchResult) -> None:
        event_id = item.event.event_id
        with event_context(event_id):
            if claim.state == ClaimState.PENDING:
                log.info("resend while another publish holds the claim; no ack yet")
                return
            via = ChannelType.Value(claim.delivered_via) if claim.delivered_via else None
            status = AckStatus.Value(claim.state.value)
            frame = ack_frame(event_id, status, via, claim.error)
        result.acks.append((item.inbound.routing_id, frame))

    def _publisher(self):
        """A producer on a broker connection of the ingress's own, whose socket operations time
        out quickly: a silently dead broker never holds the loop for long."""
        if self._producer is None:
            quick = {
                "socket_timeout": PUBLISH_SOCKET_TIMEOUT_S,
                "socket_connect_timeout": PUBLISH_SOCKET_TIMEOUT_S,
            }
            connection = app.connection_for_write(transport_options=quick)
            self._producer = ChainProducer(connection, auto_declare=False)
        return self._producer

    def _enqueue_chains(self, jobs: list[Job]) -> bool:
        """Publish these round 0s in one batch (kombu's `Producer.batch`: one Redis pipeline; a
        transport without batches publishes each at once); False when the broker did not take
        them within about a second, and then none is counted on."""
        producer = self._publisher()
        try:
            if not self._declared:
                # Every task queue once (durable: they outlive a broker restart), rather than
                # Celery's declare check per message, which copies and binds the queue each time.
                for queue in app.amqp.queues.values():
                    producer.maybe_declare(queue)
                self._declared = True
            with producer.batch(max_size=PUBLISH_BATCH_COMMANDS):
                for job in jobs:
                    apply_chain(
                        build_chain(Carry(job)),
                        producer,
                        declare=[],
                        retry=True,
                        retry_policy=PUBLISH_RETRY_POLICY,
                    )
        except Exception as exc:
            log.error("broker publish of %d chains failed (%s); claims released", len(jobs), exc)
            for job in jobs:
                with event_context(job.event_id, job.user_id):
                    log.warning("not queued: broker publish failed; the container's resend retries")
            return False
        return True


def _ack_superseded(ingress_id: str, routing_id: bytes, event_id: str, error: str) -> None:
    """The final ack of an event a newer one replaced, through the ingress its container is on."""
    send_ack(ingress_id, routing_id, event_id, AckStatus.ACK_ERROR, error=error)
