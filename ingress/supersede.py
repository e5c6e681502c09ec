"""Superseded updates: a newer event about the same thing (proto.supersede_key) replaces one not
yet delivered, which is answered ACK_ERROR "superseded by <event_id>" to its own container.

Run by the router after a batch's events are claimed and queued (or handed to a live session),
in arrival order. The replaced event's claim becomes final at once, so its chain stops at its
next fence, on every channel; one a provider is being called for right now is left to finish.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from logsetup import event_context
from proto import (
    SUPERSEDING_TYPES,
    AckStatus,
    InvalidEvent,
    UserEvent,
    ack_frame,
    parse_payload,
    supersede_key,
)
from store import ClaimState, Finalized, Store

__all__ = ["supersede"]

log = logging.getLogger(__name__)

#: Sends a final ack to a container through its ingress: (ingress id, routing id, event id, error).
SendAck = Callable[[str, bytes, str, str], None]


def supersede(
    store: Store,
    events: list[tuple[UserEvent, bytes]],
    acks: list[tuple[bytes, bytes]],
    send_ack: SendAck,
) -> set[str]:
    """For each (event, its sender's routing id) that is about a thing: take its place as the
    newest, and end the event it replaces (or, arriving late, the event itself). Returns the
    ids of the events that arrived late and were ended here (ACK_ERROR in `acks`)."""
    late: set[str] = set()
    for event, routing_id in events:
        if event.event_type not in SUPERSEDING_TYPES:
            continue
        try:
            key = supersede_key(event.event_type, parse_payload(event.payload))
        except InvalidEvent:  # validated already: never so
            continue
        if key is None:
            continue
        verdict = store.supersessions.take(
            event.user_id, key, event.event_id, event.timestamp, event.delivery.priority
        )
        if verdict.replaces:
            ended = _final(store, event.user_id, verdict.replaces, event.event_id)
            if ended is not None and ended.ingress_id:  # to its own container, wherever it is
                send_ack(ended.ingress_id, ended.routing_id, verdict.replaces, ended.error)
        elif verdict.replaced_by:
            ended = _final(store, event.user_id, event.event_id, verdict.replaced_by)
            if ended is not None:
                late.add(event.event_id)
                acks.append(
                    (routing_id, ack_frame(event.event_id, AckStatus.ACK_ERROR, error=ended.error))
                )
    return late


def _final(store: Store, user_id: str, event_id: str, by: str) -> Finalized | None:
    """Finalize `event_id` as superseded by `by`; what it wrote (the error text, where the
    container is) when this call ended it."""
    claim = store.claims.read(user_id, event_id)
    if claim.get("state") not in ("PENDING", "QUEUED"):
        return None
    error = f"superseded by {by}"
    done = store.claims.finalize(
        user_id, event_id, ClaimState.ACK_ERROR, int(claim.get("round", 0)), error=error,
        unless_sending=True,
    )  # fmt: skip
    if done is None or not done.now:
        return None
    store.delivery_log.append(
        user_id, event_id, {"channel": "-", "kind": "superseded", "detail": error}
    )
    with event_context(event_id, user_id):
        log.info("superseded by %s: not delivered", by)
    return done
