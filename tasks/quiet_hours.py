"""A user's quiet hours: a daily window in their own time zone ("23:00-07:00",
"Europe/Berlin"), during which NORMAL events are held for one digest at its end. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["QuietHours", "QuietHoursError"]

_WINDOW = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")


class QuietHoursError(ValueError):
    """A window or time zone that cannot be read; the message says which and why."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From `start` to `end` every day, in `zone` (crossing midnight when start > end)."""

    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, window: str, zone: str = "") -> QuietHours:
        """`window` as HH:MM-HH:MM (24 h); `zone` an IANA name, UTC when empty."""
        match = _WINDOW.fullmatch(window.strip())
        if match is None:
            raise QuietHoursError(
                f"quiet hours must be HH:MM-HH:MM, e.g. 23:00-07:00 (got {window!r})"
            )
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if (h1, m1) == (h2, m2):
            raise QuietHoursError(f"quiet hours start and end at the same time: {window!r}")
        try:
            tz = ZoneInfo(zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise QuietHoursError(
                f"unknown time zone {zone!r} (an IANA name, e.g. Europe/Berlin)"
            ) from None
        return cls(time(h1, m1), time(h2, m2), tz)

    def _at(self, day: date, moment: time) -> float:
        return datetime.combine(day, moment, tzinfo=self.zone).timestamp()

    def ends_at(self, now: float) -> float | None:
        """When the quiet hours around `now` (unix s) end, or None when `now` is not in them."""
        local = datetime.fromtimestamp(now, self.zone)
        today, clock = local.date(), local.time()
        if self.start < self.end:
            return self._at(today, self.end) if self.start <= clock < self.end else None
        if clock >= self.start:
            return self._at(today + timedelta(days=1), self.end)
        if clock < self.end:
            return self._at(today, self.end)
        return None
