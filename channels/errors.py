"""What every channel's error map is built from: the HTTP status rule all our providers follow,
exception tables keyed by name (so a provider SDK need not be imported to declare them), the
one "retry after" reader, and the one catch-all for a bug inside a channel.

HTTP status (`kind_of_status`), as apprise declares `SENDGRID_HTTP_ERROR_MAP`:

=======================  ============  ==========================================
2xx                      DELIVERED
429                      RATE_LIMITED  wait the provider's retry-after
408, 5xx                 TRANSIENT     retry with backoff
other 4xx (and the rest) PERMANENT     escalate now
=======================  ============  ==========================================

An exception table maps `"<top package>.<ClassName>"` (`exception_name`: "telegram.RetryAfter",
"httpx.TimeoutException", "builtins.TimeoutError") to a Kind and a label; `match_exception`
walks the exception's class hierarchy, most specific first.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from .outcome import Kind, Outcome

__all__ = [
    "ExceptionMap",
    "exception_name",
    "internal_error",
    "kind_of_status",
    "match_exception",
    "outcome_of",
    "retry_after_s",
]

log = logging.getLogger(__name__)

#: `"<top package>.<ClassName>"` -> (what it means, the label that starts the detail).
ExceptionMap = Mapping[str, tuple[Kind, str]]


def kind_of_status(status: int) -> Kind:
    """The status rule in the module docstring."""
    if 200 <= status < 300:
        return Kind.DELIVERED
    if status == 429:
        return Kind.RATE_LIMITED
    if status == 408 or status >= 500:
        return Kind.TRANSIENT
    return Kind.PERMANENT


def exception_name(cls: type) -> str:
    """A class as exception tables name it: its top-level package and its own name."""
    return f"{cls.__module__.partition('.')[0]}.{cls.__name__}"


def match_exception(exc: BaseException, table: ExceptionMap) -> tuple[Kind, str] | None:
    """The entry for the most specific class of `exc` that the table names, or None."""
    for cls in type(exc).__mro__:
        entry = table.get(exception_name(cls))
        if entry is not None:
            return entry
    return None


def outcome_of(kind: Kind, detail: str, retry_after: float | None = None) -> Outcome:
    """An Outcome of a failed send (`retry_after` only matters when RATE_LIMITED)."""
    if kind == Kind.RATE_LIMITED:
        return Outcome.rate_limited(detail, retry_after if retry_after is not None else 0.0)
    if kind == Kind.PERMANENT:
        return Outcome.permanent(detail)
    return Outcome.transient(detail)


def internal_error(exc: BaseException, channel: str) -> Outcome:
    """A bug inside a channel (never a provider's answer): TRANSIENT, logged with its trace."""
    log.error("channel=%s unexpected error", channel, exc_info=exc)
    return Outcome.internal_error(exc)


def _seconds(value: object, now: float) -> float | None:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        try:
            return parsedate_to_datetime(text).timestamp() - now
        except (TypeError, ValueError):
            return None


def retry_after_s(*hints: object, default: float, now: float | None = None) -> float:
    """Seconds to wait from the first usable hint: a number, a numeric string, an HTTP date
    (Retry-After) or a timedelta (PTB's RetryAfter); `default` when none is usable."""
    now = time.time() if now is None else now
    for hint in hints:
        seconds = _seconds(hint, now)
        if seconds is not None and math.isfinite(seconds):
            return max(seconds, 0.0)
    return default
