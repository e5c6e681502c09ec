"""A digest: the NORMAL events held back for one user and channel (quiet hours, the flood
guard), shown as one message: "12 log lines from strategy X, 3 alerts".

Each held event is remembered by its `digest_item` (what the digest says of it); `digest_notice`
makes the one Notice every channel renders as usual (its summary is already in words).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .notice import Notice
from .render import _s, summarize

__all__ = ["digest_item", "digest_notice"]

#: The latest events a digest names one by one, after its counts.
LATEST_SHOWN = 5

_NOUNS = (
    ("STRATEGY_LOG", "log line"),
    ("STRATEGY_", "strategy event"),
    ("ALERT_", "alert"),
    ("ORDER_", "order update"),
    ("POSITION_", "position update"),
    ("BACKTEST_", "backtest"),
)


def _group(notice: Notice) -> str:
    noun = next(
        (noun for prefix, noun in _NOUNS if notice.event_type.startswith(prefix)),
        notice.event_type.replace("_", " ").lower(),
    )
    strategy = _s(notice.payload, "strategy_name") or _s(notice.payload, "strategy_id")
    return f"{noun}|from strategy {strategy}" if strategy else f"{noun}|"


def digest_item(notice: Notice, until: float) -> dict[str, Any]:
    """What is kept of a held event: until when it is held and what the digest says of it."""
    return {
        "until": until,
        "type": notice.event_type,
        "title": summarize(notice).title,
        "group": _group(notice),
        "time": notice.timestamp_ms,
    }


def digest_notice(user_id: str, items: list[dict[str, Any]], why: str) -> Notice:
    """One message for `items` (held events, oldest first): counts per kind and source, then
    the latest few titles. `why`: "during quiet hours", "from a flood of events"."""
    counts = Counter(item["group"] for item in items)
    parts = []
    for group, count in counts.most_common():
        noun, _, source = group.partition("|")
        parts.append(
            " ".join(filter(None, (str(count), noun + ("s" if count > 1 else ""), source)))
        )
    latest = [f"• {item['title']}" for item in items[-LATEST_SHOWN:]]
    more = len(items) - len(latest)
    lines = [", ".join(parts), *latest] + ([f"… and {more} earlier"] if more else [])
    event_id = f"digest-{items[-1]['time'] if items else 0}"
    return Notice.in_words(user_id, event_id, f"{len(items)} notifications {why}", lines)
