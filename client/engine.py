"""The client's state machine, shared by the thread of `NotifyClient` and the task of
`AsyncNotifyClient`: admit an event, send it, read acks, resend on schedule and after every
reconnect, give up at the deadline, keep the durable outbox in step, count what happened.

It never waits: the owner calls `pump()` whenever the socket, the monitor or the clock says so,
and sleeps until the moment it returns. Only the owner's thread (or event loop) touches it,
except `prepare` and `persist`, which callers run in their own thread before handing over.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from proto import AckStatus, EventAck, Limits, Priority, UserEvent, held_until

from .connection import FAILOVER_S, CurveKeys, Dealer
from .errors import NoFinalAck
from .events import (
    DEFAULT_CRITICAL_DEADLINE_S,
    DEFAULT_NORMAL_TTL_S,
    FINAL_ACK_GRACE_S,
    checked_frame,
)
from .outbox import Outbox, Stored
from .tracker import RESEND_FIRST_S, RESEND_MAX_S, InFlight, Tracker

__all__ = [
    "DROP_REASONS",
    "FINAL_STATUSES",
    "ClientOptions",
    "ClientStats",
    "Drops",
    "Engine",
    "Handle",
    "Prepared",
]

log = logging.getLogger(__name__)

FINAL_STATUSES = frozenset({AckStatus.DELIVERED, AckStatus.ACK_ERROR})
#: Events the client keeps open at most, by default.
MAX_IN_FLIGHT = 10_000
#: An INFORMATIONAL event that finds no ingress waits this long for one (a client just made is
#: still connecting), then is dropped.
INFORMATIONAL_HOLD_S = 1.0
#: The longest the owner sleeps: the failover clock is read at least this often.
MAX_SLEEP_S = 0.1
DEFAULT_ADDRESS = "tcp://127.0.0.1:5571"
#: How long leaving a `with` block on an exception waits for open events to be final.
CLOSE_TIMEOUT_S = 30.0
#: An event recovered from the outbox after its deadline still waits this long for the
#: ingress's replayed ACK_ERROR (it answers a resend at once).
RECOVERED_GRACE_S = 5.0
#: Why an INFORMATIONAL event was dropped: `max_in_flight` events open (or that many queued),
#: no ingress connected within `informational_hold_s`, or the client closed before it went out.
DROP_REASONS = ("full", "unconnected", "closed")
#: A drop is logged (WARNING) the first time for its reason, then at most this often.
DROP_LOG_EVERY_S = 10.0


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Everything a client can be told, with its defaults.

    `max_in_flight`: NORMAL and CRITICAL events open at once; beyond it `send` blocks (or
    raises ClientFull with `block_when_full=False`) and INFORMATIONAL events are dropped and
    counted. `outbox`: a SQLite file for unacknowledged events; `durable`: the priorities kept
    there (CRITICAL by default). `critical_deadline_s`, `normal_ttl_s`, `limits`: the service's
    values, so the client stops resending when the service gives up, and checks what it does.
    """

    max_in_flight: int = MAX_IN_FLIGHT
    block_when_full: bool = True
    resend_first_s: float = RESEND_FIRST_S
    resend_max_s: float = RESEND_MAX_S
    failover_s: float = FAILOVER_S
    critical_deadline_s: float = DEFAULT_CRITICAL_DEADLINE_S
    normal_ttl_s: float = DEFAULT_NORMAL_TTL_S
    #: Waited past the deadline or TTL for the service's final ACK_ERROR.
    final_ack_grace_s: float = FINAL_ACK_GRACE_S
    outbox: str | None = None
    durable: frozenset[int] = frozenset({Priority.CRITICAL})
    limits: Limits = field(default_factory=Limits)
    #: Leaving a `with` block on an exception flushes up to this long (None: until all final).
    close_timeout_s: float | None = CLOSE_TIMEOUT_S
    #: How long an INFORMATIONAL event waits for an ingress to connect before it is dropped.
    informational_hold_s: float = INFORMATIONAL_HOLD_S

    def __post_init__(self) -> None:
        if self.max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        if isinstance(self.durable, str):  # "CRITICAL,NORMAL"
            object.__setattr__(self, "durable", [p for p in self.durable.split(",") if p.strip()])
        named = set()
        for priority in self.durable:
            if isinstance(priority, str):
                name = priority.strip().upper()
                if name not in ("NORMAL", "CRITICAL"):
                    raise ValueError(f"durable: {priority!r} is not NORMAL or CRITICAL")
                priority = Priority.Value(name)
            named.add(priority)
        object.__setattr__(self, "durable", frozenset(named))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> ClientOptions:
        """Options from NOTIFY_CLIENT_MAX_IN_FLIGHT, NOTIFY_CLIENT_OUTBOX, NOTIFY_CLIENT_DURABLE
        ("CRITICAL,NORMAL"), NOTIFY_CLIENT_CLOSE_TIMEOUT_S, and the service's
        NOTIFY_CRITICAL_DEADLINE_S, NOTIFY_NORMAL_TTL_S, NOTIFY_MAX_PAYLOAD_BYTES and
        NOTIFY_MAX_FRAME_BYTES; `overrides` win."""
        env = os.environ if environ is None else environ
        found: dict = {}
        for variable, name, kind in (
            ("NOTIFY_CLIENT_MAX_IN_FLIGHT", "max_in_flight", int),
            ("NOTIFY_CLIENT_OUTBOX", "outbox", str),
            ("NOTIFY_CLIENT_DURABLE", "durable", str),
            ("NOTIFY_CLIENT_CLOSE_TIMEOUT_S", "close_timeout_s", float),
            ("NOTIFY_CRITICAL_DEADLINE_S", "critical_deadline_s", float),
            ("NOTIFY_NORMAL_TTL_S", "normal_ttl_s", float),
        ):
            if env.get(variable):
                found[name] = _parsed(variable, env[variable], kind)
        payload = env.get("NOTIFY_MAX_PAYLOAD_BYTES")
        frame = env.get("NOTIFY_MAX_FRAME_BYTES")
        if payload or frame:
            found["limits"] = replace(
                Limits(),
                **({"max_payload_bytes": _parsed("NOTIFY_MAX_PAYLOAD_BYTES", payload, int)} if payload else {}),
                **({"max_frame_bytes": _parsed("NOTIFY_MAX_FRAME_BYTES", frame, int)} if frame else {}),
            )  # fmt: skip
        try:
            return cls(**{**found, **overrides})
        except ValueError as exc:
            if "durable" in str(exc) and "durable" in found and "durable" not in overrides:
                raise ValueError(f"NOTIFY_CLIENT_DURABLE: {exc}") from None
            raise

    def close_bound(self, exc_type: type[BaseException] | None) -> float | None:
        """How long leaving a `with` block waits for open events: until final when it is left
        normally; up to close_timeout_s on an error (acks may be what failed); not at all on
        Ctrl-C or a cancelled task, which ask to stop now (the outbox keeps durable events)."""
        if exc_type is None:
            return None
        if issubclass(exc_type, (KeyboardInterrupt, asyncio.CancelledError)):
            return 0
        return self.close_timeout_s

    def give_up_s(self, priority: int) -> float:
        """How long an event of this priority is resent: the service's deadline or TTL + grace."""
        wait = self.critical_deadline_s if priority == Priority.CRITICAL else self.normal_ttl_s
        return wait + self.final_ack_grace_s


def _parsed(variable: str, text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r} is not a {kind.__name__}") from None


def connection_from_env(
    environ: Mapping[str, str] | None = None,
) -> tuple[list[str], bytes | None, CurveKeys | None]:
    """(addresses, routing id, CURVE keys) from NOTIFY_CLIENT_INGRESS (comma-separated ROUTER
    addresses, tried in order; default tcp://127.0.0.1:5571), NOTIFY_CLIENT_ID and the
    NOTIFY_CURVE_* keys."""
    env = os.environ if environ is None else environ
    listed = env.get("NOTIFY_CLIENT_INGRESS", "") or DEFAULT_ADDRESS
    addresses = [a.strip() for a in listed.split(",") if a.strip()]
    identity = env.get("NOTIFY_CLIENT_ID", "").encode() or None
    return addresses, identity, CurveKeys.from_env(env)


@dataclass(slots=True)
class ClientStats:
    """What the client did, counted since it started (a snapshot: `client.stats()`)."""

    #: NORMAL/CRITICAL events accepted by `send`, and recovered from the outbox at start.
    accepted: int = 0
    recovered: int = 0
    #: Frames handed to ZMQ: first sends and resends (one that found no ingress is not counted).
    sent: int = 0
    resent: int = 0
    #: Final outcomes.
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0
    #: INFORMATIONAL events handed to ZMQ, and dropped: in all, and by reason (DROP_REASONS):
    #: `max_in_flight` events open, no ingress within `informational_hold_s`, the client closed.
    informational_sent: int = 0
    informational_dropped: int = 0
    informational_dropped_full: int = 0
    informational_dropped_unconnected: int = 0
    informational_dropped_closed: int = 0
    #: Open now, waiting for a final ack.
    in_flight: int = 0


#: `on_drop(event_id, reason)`: an INFORMATIONAL event the client dropped (DROP_REASONS).
DropCallback = Callable[[str, str], None]


class Drops:
    """INFORMATIONAL events dropped, by reason; safe from any thread.

    Each drop is counted, reported to `on_drop(event_id, reason)` (a container's own metric,
    say) and logged at WARNING: the first of a reason at once, then at most one line per
    DROP_LOG_EVERY_S saying how many more were dropped meanwhile.
    """

    def __init__(self, on_drop: DropCallback | None = None) -> None:
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self.counts = dict.fromkeys(DROP_REASONS, 0)
        self._logged_at: dict[str, float] = {}
        self._unlogged = dict.fromkeys(DROP_REASONS, 0)

    def __call__(self, event_id: str, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.counts[reason] += 1
            last = self._logged_at.get(reason)
            say = last is None or now - last >= DROP_LOG_EVERY_S
            if say:
                self._logged_at[reason] = now
                more, self._unlogged[reason] = self._unlogged[reason], 0
            else:
                self._unlogged[reason] += 1
        if say:
            log.warning(
                "event_id=%s INFORMATIONAL dropped (%s)%s", event_id, _DROP_TEXT[reason],
                f"; {more} more dropped for this reason since the last warning" if more else "",
            )  # fmt: skip
        if self._on_drop is not None:
            try:
                self._on_drop(event_id, reason)
            except Exception:
                log.exception("event_id=%s the on_drop callback raised", event_id)

    def add_to(self, stats: ClientStats) -> ClientStats:
        with self._lock:
            counts = dict(self.counts)
        stats.informational_dropped = sum(counts.values())
        for reason in DROP_REASONS:
            setattr(stats, f"informational_dropped_{reason}", counts[reason])
        return stats


_DROP_TEXT = {
    "full": "full: max_in_flight events are open",
    "unconnected": "unconnected: no ingress connected within informational_hold_s",
    "closed": "closed: the client closed before it went out",
}


class Handle(Protocol):
    """What the caller holds for one event; the engine reports to it."""

    def acked(self, ack: EventAck, final: bool) -> None: ...

    def gave_up(self, error: Exception) -> None: ...


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event checked and encoded in the caller's thread, ready to hand over."""

    event_id: str
    user_id: str
    priority: int
    frame: bytes
    give_up_s: float
    durable: bool


class Engine:
    """One client's events in flight over one Dealer (see the module docstring).

    `on_ack(ack)` is called for every ack of an open event (QUEUED and final); `released(item)`
    when an event leaves (final, or given up), so the owner can free its slot.
    """

    def __init__(
        self,
        dealer: Dealer,
        options: ClientOptions,
        released: Callable[[InFlight], None],
        on_ack: Callable[[EventAck], None] | None = None,
        drops: Drops | None = None,
    ) -> None:
        self.dealer = dealer
        self.options = options
        self.tracker = Tracker(options.resend_first_s, options.resend_max_s)
        self.outbox = Outbox(options.outbox) if options.outbox else None
        self.stats = ClientStats()
        self.drops = drops or Drops()
        self._released = released
        self._on_ack = on_ack
        #: INFORMATIONAL events waiting for an ingress: (drop at, event id, frame).
        self._held: deque[tuple[float, str, bytes]] = deque()

    # -- in the caller's thread --------------------------------------------------------------------

    def prepare(self, event: UserEvent) -> Prepared:
        """Check and encode; raises proto.InvalidEvent as the ingress would answer."""
        frame = checked_frame(event, self.options.limits)
        priority = event.delivery.priority
        return Prepared(
            event.event_id,
            event.user_id,
            priority,
            frame,
            self.options.give_up_s(priority),
            durable=self.outbox is not None and priority in self.options.durable,
        )

    def persist(self, prepared: Prepared) -> None:
        """Keep a durable event on disk before the caller is told it was accepted."""
        if prepared.durable and self.outbox is not None:
            give_up_at = time.time() + prepared.give_up_s
            self.outbox.add(
                Stored(
                    prepared.user_id,
                    prepared.event_id,
                    prepared.priority,
                    prepared.frame,
                    give_up_at,
                )
            )

    # -- in the owner's thread ---------------------------------------------------------------------

    def recover(self, make_handle: Callable[[Prepared], Handle]) -> list[Handle]:
        """Admit what an earlier run left in the outbox, with the same event ids and the time
        it had left (at start, before the owner's loop runs)."""
        handles = []
        for stored in self.outbox.load() if self.outbox is not None else []:
            # Past its time, it still goes once: the ingress's answer (a replayed ACK_ERROR,
            # most likely) comes back at once, and is better than NoFinalAck.
            left = max(stored.give_up_at - time.time(), RECOVERED_GRACE_S)
            prepared = Prepared(
                stored.event_id, stored.user_id, stored.priority, stored.frame, left, True
            )
            handles.append(handle := make_handle(prepared))
            self.admit(prepared, handle, recovered=True)
        return handles

    def admit(self, prepared: Prepared, handle: Handle, recovered: bool = False) -> None:
        """Track the event and send it now."""
        now = time.monotonic()
        item = InFlight(
            prepared.event_id,
            prepared.user_id,
            prepared.priority,
            prepared.frame,
            now + prepared.give_up_s,
            handle,
            durable=prepared.durable,
        )
        self.tracker.add(item, now)
        if recovered:
            self.stats.recovered += 1
        else:
            self.stats.accepted += 1
        self.stats.in_flight = len(self.tracker)
        self._send(item, now)

    def send_informational(self, prepared: Prepared) -> None:
        """Fire and forget: handed to ZMQ now, or held up to `informational_hold_s` for an
        ingress to connect; dropped (and counted) when the client is full or none comes."""
        if len(self.tracker) >= self.options.max_in_flight:
            self.drops(prepared.event_id, "full")
        elif self._held or not self.dealer.send_frame(prepared.frame, 0):
            if len(self._held) < self.options.max_in_flight:
                expires = time.monotonic() + self.options.informational_hold_s
                self._held.append((expires, prepared.event_id, prepared.frame))
            else:
                self.drops(prepared.event_id, "full")
        else:
            self.stats.informational_sent += 1

    def snapshot(self) -> ClientStats:
        """A copy of the counters, drops included (in the owner's thread, or racing it
        harmlessly: every counter is a plain int)."""
        return self.drops.add_to(replace(self.stats))

    def _send_held(self, now: float) -> None:
        """Held INFORMATIONAL events: sent in order once an ingress is up, dropped when stale."""
        while self._held:
            expires, event_id, frame = self._held[0]
            if expires <= now:
                self.drops(event_id, "unconnected")
            elif self.dealer.send_frame(frame, 0):
                self.stats.informational_sent += 1
            else:
                return
            self._held.popleft()

    def pump(self) -> float:
        """Do everything that is due now; returns how long the owner may sleep."""
        for ack in self.dealer.recv_acks():
            try:
                self._on_event_ack(ack)
            except Exception:  # one ack's trouble (a full disk, say) is not every ack's
                log.exception("event_id=%s handling its ack failed", ack.event_id)
        now = time.monotonic()
        if self.dealer.watch():  # a (re)connect: every open event goes again at once
            for item in self.tracker:
                self._send(item, now)
        self._send_held(now)
        for item in self.tracker.due(now):
            self._send(item, now)
        for item in self.tracker.expired(now):
            self.stats.gave_up += 1
            log.warning("event_id=%s no final ack before its deadline; gave up", item.event_id)
            item.handle.gave_up(NoFinalAck(f"no final ack for {item.event_id}"))
            self._finish(item, tracked=False)
        next_wake = self.tracker.next_wake()
        if self._held:
            next_wake = min(next_wake or math.inf, self._held[0][0])
        sleep = MAX_SLEEP_S if next_wake is None else next_wake - time.monotonic()
        return max(0.0, min(sleep, MAX_SLEEP_S))

    def abandon_all(self, error: Exception) -> None:
        """Stop tracking everything (the client is closing); durable events stay on disk."""
        for item in self.tracker:
            item.handle.gave_up(error)
            self.tracker.remove(item.event_id)
            self._released(item)
        self.stats.in_flight = 0

    def close(self) -> None:
        """Stop; INFORMATIONAL events still held for an ingress are dropped (and counted)."""
        while self._held:
            self.drops(self._held.popleft()[1], "closed")
        self.dealer.close()
        if self.outbox is not None:
            self.outbox.close()

    def _send(self, item: InFlight, now: float) -> None:
        if self.dealer.send_frame(item.frame, 0):
            if item.sends:
                self.stats.resent += 1
            else:
                self.stats.sent += 1
            item.sends += 1
        self.tracker.sent(item, now)

    def _on_event_ack(self, ack: EventAck) -> None:
        item = self.tracker.get(ack.event_id)
        if item is None:
            return  # a replay for an event already final here (a resend crossed its ack)
        final = ack.status in FINAL_STATUSES
        if ack.status == AckStatus.QUEUED:
            item.queued = True
            held = held_until(ack.error_message)
            if held is not None:  # held for the user's quiet hours: final after they end
                left = held - time.time() + self.options.normal_ttl_s
                self.tracker.extend(item, time.monotonic() + left + self.options.final_ack_grace_s)
        item.handle.acked(ack, final)  # before the slot is freed: a flush sees it resolved
        if self._on_ack is not None:
            try:
                self._on_ack(ack)
            except Exception:
                log.exception("event_id=%s the on_ack callback raised", ack.event_id)
        if final:
            self._finish(item)
            if ack.status == AckStatus.DELIVERED:
                self.stats.delivered += 1
            else:
                self.stats.failed += 1

    def _finish(self, item: InFlight, tracked: bool = True) -> None:
        """The event leaves: out of the table, off the disk, its slot freed."""
        if tracked:
            self.tracker.remove(item.event_id)
        self.stats.in_flight = len(self.tracker)
        try:
            if item.durable and self.outbox is not None:
                self.outbox.remove(item.user_id, item.event_id)
        finally:  # a row left behind is resent once more by the next run: harmless
            self._released(item)
