"""The one non-final ack with a meaning of its own: `QUEUED` with "held for a digest until
<time>". A NORMAL event held for a user's quiet hours is final only when the digest carrying
it is sent, hours later; this QUEUED says so, and a client waits that much longer for it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["held_message", "held_until"]

_PREFIX = "held for a digest until "
_HELD = re.compile(re.escape(_PREFIX) + r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")


def held_message(until: float) -> str:
    """The QUEUED ack's text for an event held until `until` (unix s)."""
    return _PREFIX + datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def held_until(message: str) -> float | None:
    """The unix time a QUEUED ack's text says the event is held until; None for any other."""
    match = _HELD.fullmatch(message)
    if match is None:
        return None
    return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
