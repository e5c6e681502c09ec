"""Web delivery: hand the event to the ingresses, which publish it on XPUB to the user's live session.

Endpoint: the shared kombu queue every ingress consumes (`deps.publish_web`). Presence comes
from the ingresses' XPUB subscriptions mirrored in Redis. Error map: no live subscriber ->
SKIPPED (not active; worth another CRITICAL round); a publish failure -> TRANSIENT.
"""

from __future__ import annotations

from .deps import Deps
from .outcome import Outcome, SkipCode

__all__ = ["send"]


def send(frame: bytes, user_id: str, deps: Deps) -> Outcome:
    """Publish the 0x20 frame to the user's topic when someone is listening."""
    if not deps.store.presence.is_present(user_id):
        return Outcome.skipped(SkipCode.NOT_ACTIVE, "no live web session")
    try:
        deps.publish_web(user_id, frame)
    except Exception as exc:  # broker trouble: try again later
        return Outcome.transient(f"web publish failed: {type(exc).__name__}: {exc}")
    return Outcome.delivered("handed to a live web session")
