"""Web delivery: hand the event to the ingresses, which publish it on XPUB to the user's live
session; the session server relays it to the browser, whose ack it records in Redis.

Endpoint: the shared kombu queue every ingress consumes (`deps.publish_web`). Presence comes
from the ingresses' XPUB subscriptions mirrored in Redis. Error map: no live subscriber ->
SKIPPED (not active; worth another CRITICAL round); a publish failure -> TRANSIENT. Delivered
means acked by the browser (`acked`); the tasks wait for it without blocking a worker.
"""

from __future__ import annotations

from .deps import Deps
from .outcome import Outcome, SkipCode

__all__ = ["acked", "publish"]


def publish(frame: bytes, user_id: str, deps: Deps) -> Outcome | None:
    """Publish the 0x20 frame to the user's topic; None when handed over, else why not."""
    if not deps.store.presence.is_present(user_id):
        return Outcome.skipped(SkipCode.NOT_ACTIVE, "no live web session")
    try:
        deps.publish_web(user_id, frame)
    except Exception as exc:  # broker trouble: try again later
        return Outcome.transient(f"web publish failed: {type(exc).__name__}: {exc}")
    return None


def acked(user_id: str, event_id: str, deps: Deps) -> bool:
    """Has the user's browser acked this event?"""
    return bool(deps.store.client.exists(deps.store.keys.web_ack(user_id, event_id)))
