"""Reading a provider's "wait this long" hint: an HTTP Retry-After value, in seconds or as a date."""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime

__all__ = ["retry_after_seconds"]


def retry_after_seconds(value: object, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (`"3"`, `"2.5"` or an HTTP date); None if unusable."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(text).timestamp() - (
                time.time() if now is None else now
            )
        except (TypeError, ValueError):
            return None
    return max(seconds, 0.0) if math.isfinite(seconds) else None
