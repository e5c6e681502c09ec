"""What is in flight and when each event goes again: the resend schedule, without I/O.

Every NORMAL or CRITICAL event stays here until its final ack (DELIVERED or ACK_ERROR) or until
it gives up (its deadline or TTL and a grace minute: by then the service has answered
ACK_ERROR). Resends wait `resend_first_s`, doubling up to `resend_max_s`; one that could not be
handed to ZMQ (no ingress) waits the same, since the next connect resends everything anyway.
Both schedules are heaps with lazy deletion, so a pump costs what is due, not what is open.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["InFlight", "Tracker"]

#: Resend backoff: first wait, and the longest.
RESEND_FIRST_S = 2.0
RESEND_MAX_S = 30.0


@dataclass(slots=True, eq=False)
class InFlight:
    """One event waiting for its final ack; `handle` is what the caller holds."""

    event_id: str
    user_id: str
    priority: int
    frame: bytes
    #: When to stop waiting (monotonic seconds).
    give_up_at: float
    handle: Any
    wait_s: float = RESEND_FIRST_S
    due_at: float = 0.0
    #: Times it was handed to ZMQ.
    sends: int = 0
    queued: bool = False
    #: Kept in the durable outbox (deleted there once final).
    durable: bool = False


class Tracker:
    """The in-flight table, keyed by event id (an EventAck names nothing else)."""

    def __init__(
        self, resend_first_s: float = RESEND_FIRST_S, resend_max_s: float = RESEND_MAX_S
    ) -> None:
        self.resend_first_s = resend_first_s
        self.resend_max_s = resend_max_s
        self._items: dict[str, InFlight] = {}
        self._resends: list[tuple[float, int, InFlight]] = []
        self._deadlines: list[tuple[float, int, InFlight]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[InFlight]:
        return iter(list(self._items.values()))

    def get(self, event_id: str) -> InFlight | None:
        return self._items.get(event_id)

    def add(self, item: InFlight, now: float) -> None:
        """Track `item`, due at once."""
        item.wait_s = self.resend_first_s
        item.due_at = now
        self._items[item.event_id] = item
        heapq.heappush(self._resends, (now, next(self._order), item))
        heapq.heappush(self._deadlines, (item.give_up_at, next(self._order), item))

    def sent(self, item: InFlight, now: float) -> None:
        """`item` went out (or could not): its next resend after the current wait, doubled."""
        item.due_at = now + item.wait_s
        item.wait_s = min(item.wait_s * 2, self.resend_max_s)
        heapq.heappush(self._resends, (item.due_at, next(self._order), item))

    def due(self, now: float) -> list[InFlight]:
        """The tracked events whose resend is due."""
        ready = []
        while self._resends and self._resends[0][0] <= now:
            due_at, _, item = heapq.heappop(self._resends)
            if item.due_at == due_at and self._items.get(item.event_id) is item:
                ready.append(item)
        return ready

    def extend(self, item: InFlight, give_up_at: float) -> None:
        """Wait for `item` until `give_up_at` instead, when that is later."""
        if give_up_at > item.give_up_at:
            item.give_up_at = give_up_at
            heapq.heappush(self._deadlines, (give_up_at, next(self._order), item))

    def expired(self, now: float) -> list[InFlight]:
        """The tracked events past their give-up time, no longer tracked."""
        gone = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, _, item = heapq.heappop(self._deadlines)
            if item.give_up_at == deadline and self._items.get(item.event_id) is item:
                del self._items[item.event_id]
                gone.append(item)
        return gone

    def remove(self, event_id: str) -> InFlight | None:
        """Stop tracking an event (it is final, or the client is closing)."""
        item = self._items.pop(event_id, None)
        # A final event leaves its entries behind; a give-up time can be a day away, so the
        # heaps are rebuilt from what is live once most of them are stale.
        if len(self._deadlines) > 2 * len(self._items) + 1024:
            live = self._items.values()
            self._deadlines = [(i.give_up_at, next(self._order), i) for i in live]
            self._resends = [(i.due_at, next(self._order), i) for i in live]
            heapq.heapify(self._deadlines)
            heapq.heapify(self._resends)
        return item

    def next_wake(self) -> float | None:
        """The earliest moment something is due: a resend or a give-up."""
        times = [heap[0][0] for heap in (self._resends, self._deadlines) if heap]
        return min(times) if times else None
