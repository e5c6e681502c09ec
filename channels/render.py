"""Channel-neutral rendering: one title and a few detail lines per event, from its payload.

Payload fields follow the proto's `*EventPayload` messages. Decimal strings are shown exactly as
given (never re-rounded through float). Odd or missing fields fall back to a generic rendering;
rendering never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .notice import IN_WORDS, Notice

__all__ = ["Summary", "summarize"]

log = logging.getLogger(__name__)

#: Decimals written out in plain digits up to this exponent; scientific notation beyond.
MAX_PLAIN_EXPONENT = 40
#: Longest text shown for one payload field.
MAX_FIELD_CHARS = 500


@dataclass(frozen=True, slots=True)
class Summary:
    """What every channel shows: a one-line title and detail lines."""

    title: str
    lines: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join((self.title, *self.lines))


def _s(payload: dict[str, Any], name: str) -> str:
    """A payload field as text; numbers keep their JSON spelling, absent or odd fields are ''."""
    value = payload.get(name)
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return ""
    if (
        isinstance(value, Decimal)
        and value.is_finite()
        and abs(value.adjusted()) <= MAX_PLAIN_EXPONENT
    ):
        return format(value, "f")  # as written: "1E-8" -> 0.00000001, "50000.10" stays
    # str() of a huge exponent stays short ("1E+50000000"); "f" would write every digit.
    return str(value).strip()[:MAX_FIELD_CHARS]


def _human(event_type: str) -> str:
    return event_type.replace("_", " ").capitalize()


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _summary(notice: Notice, head: str, labelled: tuple[tuple[str, str], ...] = ()) -> Summary:
    """ "<Event type> — <head>" and a "Label: value" line per payload field that is present."""
    p = notice.payload
    title = f"{_human(notice.event_type)} — {head}" if head else _human(notice.event_type)
    return Summary(title, tuple(f"{label}: {_s(p, key)}" for key, label in labelled if _s(p, key)))


def _order(notice: Notice) -> Summary:
    p = notice.payload
    filled = notice.event_type == "ORDER_FILLED"
    quantity = (_s(p, "fill_quantity") if filled else "") or _s(p, "quantity")
    price = (_s(p, "fill_price") if filled else "") or _s(p, "price")
    head = _join(_s(p, "side").upper(), quantity, _s(p, "symbol"))
    if price:
        head = f"{head} @ {price}"
    if _s(p, "exchange"):
        head = f"{head} ({_s(p, 'exchange')})"
    return _summary(
        notice,
        head,
        (
            ("order_type", "Type"),
            ("status", "Status"),
            ("order_id", "Order"),
            ("strategy_id", "Strategy"),
            ("error_message", "Error"),
        ),
    )


def _alert(notice: Notice) -> Summary:
    p = notice.payload
    head = _join(_s(p, "symbol") + ":" if _s(p, "symbol") else "", _s(p, "condition"))
    if _s(p, "triggered_price"):
        head = _join(head, f"at {_s(p, 'triggered_price')}")
    return _summary(notice, head, (("alert_id", "Alert"),))


def _position(notice: Notice) -> Summary:
    p = notice.payload
    head = _join(_s(p, "side").upper(), _s(p, "size"), _s(p, "symbol"))
    if _s(p, "exchange"):
        head = f"{head} ({_s(p, 'exchange')})"
    return _summary(
        notice,
        head,
        (
            ("entry_price", "Entry"),
            ("current_price", "Price"),
            ("liquidation_price", "Liquidation"),
            ("unrealized_pnl", "Unrealized PnL"),
            ("realized_pnl", "Realized PnL"),
            ("leverage", "Leverage"),
        ),
    )


def _workspace(notice: Notice) -> Summary:
    p = notice.payload
    head = _join(
        _s(p, "symbol"), _s(p, "timeframe"), _s(p, "indicator_name"), _s(p, "annotation_type")
    )
    return _summary(
        notice,
        head,
        (("change_type", "Change"), ("workspace_id", "Workspace"), ("annotation_id", "Annotation")),
    )


def _strategy(notice: Notice) -> Summary:
    p = notice.payload
    name = _s(p, "strategy_name") or _s(p, "strategy_id")
    level = _s(p, "log_level").upper()
    message = _s(p, "message")
    head = _join(name + ":" if name and message else name, f"[{level}]" if level else "", message)
    return _summary(notice, head)


def _backtest(notice: Notice) -> Summary:
    p = notice.payload
    name = _s(p, "strategy_name") or _s(p, "strategy_id")
    head = _join(name, f"on {_s(p, 'symbol')}" if _s(p, "symbol") else "", _s(p, "timeframe"))
    return _summary(
        notice,
        head,
        (
            ("total_trades", "Trades"),
            ("winning_trades", "Winning"),
            ("losing_trades", "Losing"),
            ("total_pnl", "Total PnL"),
            ("win_rate", "Win rate"),
            ("sharpe_ratio", "Sharpe"),
            ("max_drawdown", "Max drawdown"),
            ("results_path", "Results"),
        ),
    )


def _generic(notice: Notice) -> Summary:
    lines = tuple(
        f"{key}: {_s(notice.payload, key)}"
        for key in sorted(notice.payload)
        if _s(notice.payload, key)
    )
    return Summary(_human(notice.event_type), lines)


_BY_PREFIX: tuple[tuple[str, Callable[[Notice], Summary]], ...] = (
    ("ORDER_", _order),
    ("ALERT_", _alert),
    ("POSITION_", _position),
    ("WORKSPACE_", _workspace),
    ("CHART_", _workspace),
    ("INDICATOR_", _workspace),
    ("BACKTEST_", _backtest),
    ("STRATEGY_", _strategy),
)


def summarize(notice: Notice) -> Summary:
    """Title and lines for any event; falls back to the generic form, never raises."""
    if notice.event_type == IN_WORDS:  # a digest or a test message
        return Summary(str(notice.payload["title"]), tuple(notice.payload["lines"]))
    for prefix, render in _BY_PREFIX:
        if notice.event_type.startswith(prefix):
            try:
                return render(notice)
            except Exception:  # a payload odd enough to break a renderer still gets shown
                log.warning(
                    "event_type=%s renderer failed, using generic form",
                    notice.event_type,
                    exc_info=True,
                )
                break
    return _generic(notice)
