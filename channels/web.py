"""Web delivery: hand the event to the ingresses, which publish it on XPUB to the user's live
session; the session server relays it to the browser, whose ack it records in Redis.

Endpoint: the shared kombu queue every ingress consumes (`deps.publish_web`). Address: none of
its own; the user's live session, known from the ingresses' XPUB presence mirrored in Redis.
Settings: `NOTIFY_WEB_ACK_TIMEOUT_S` (how long a publish waits for the browser's ack).
Error map: no live subscriber -> SKIPPED (not active; worth another CRITICAL round); a publish
failure -> TRANSIENT; handed over -> AWAITING_ACK, and DELIVERED once the browser acks
(`acked`), which the tasks poll without blocking a worker.
"""

from __future__ import annotations

from proto import ChannelType
from settings import Settings

from .base import Channel
from .deps import Deps
from .notice import Notice
from .outcome import Outcome, SkipCode

__all__ = ["CHANNEL", "Web"]


class Web(Channel):
    """The user's browser, through the ingress XPUB and the session server."""

    __slots__ = ()
    type = ChannelType.WEB
    has_session = True
    awaits_ack = True
    external = False

    def render(self, notice: Notice) -> bytes:
        """The event's own 0x20 frame: the session server renders it for the browser."""
        return notice.frame

    def send(self, rendered: bytes, address: str, deps: Deps) -> Outcome:
        """Publish to the user's topic when they have a live session."""
        if not self.is_active(address, deps):
            return Outcome.skipped(SkipCode.NOT_ACTIVE, "no live web session")
        try:
            deps.publish_web(address, rendered)
        except Exception as exc:  # broker trouble: try again later
            return Outcome.transient(f"web publish failed: {type(exc).__name__}")
        return Outcome.awaiting_ack("published to the live web session")

    def is_active(self, user_id: str, deps: Deps) -> bool:
        return deps.store.presence.is_present(user_id)

    def acked(self, user_id: str, event_id: str, deps: Deps) -> bool:
        return deps.store.web_acks.acked(user_id, event_id)

    def ack_timeout_s(self, settings: Settings) -> float:
        return float(settings.web_ack_timeout_s)


CHANNEL = Web()
