"""Typed payload builders: one frozen dataclass per `*EventPayload` message of the proto, checked
when built, so a container author finds a mistake at the call site rather than in an ACK_ERROR.

    OrderEventPayload(order_id="o-1", symbol="BTC/USDT", side="buy", fill_quantity="0.5",
                      fill_price=Decimal("50000"), exchange="binance")

Fields and names are the proto's (a test holds them to the descriptor). Rules on top of the
proto's types, from its comments:
  decimal strings   str, int, Decimal or float (as it prints: repr); finite; sent as text
  choices           `side`, `log_level`: one of the documented values (case-insensitive)
  JSON strings      `annotation_data`, `indicator_params`, `details`: a dict/list, or a str of JSON
  int64 / int32     int (not bool), in range; timestamps in Unix milliseconds
A wrong value raises `proto.InvalidEvent` naming `payload.<field>`: the same error type, and the
same wording, as the ingress's own checks. `payload_class_for(event_type)` says which builder an
event type takes (ORDER_* -> OrderEventPayload, ...); types with none take a plain dict.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from proto import EventType, InvalidEvent

__all__ = [
    "AlertEventPayload",
    "BacktestEventPayload",
    "OrderEventPayload",
    "Payload",
    "PositionEventPayload",
    "StrategyEventPayload",
    "WorkspaceEventPayload",
    "payload_class_for",
]

Decimalish = Decimal | str | int | float

_INT_RANGES = {"int64": (-(2**63), 2**63 - 1), "int32": (-(2**31), 2**31 - 1)}


@dataclass(frozen=True, slots=True)
class Payload:
    """Base of the builders: checks every field once, and writes the JSON the ingress parses."""

    #: The proto message this builder stands for.
    MESSAGE: ClassVar[str] = ""
    #: Fields that hold a decimal string.
    DECIMALS: ClassVar[frozenset[str]] = frozenset()
    #: Fields restricted to documented values (lower case).
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: Fields that hold a JSON document as a string.
    JSON_TEXT: ClassVar[frozenset[str]] = frozenset()
    #: Integer fields and their proto type.
    INTEGERS: ClassVar[dict[str, str]] = {}

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is not None:
                object.__setattr__(self, spec.name, self._checked(spec.name, value))

    def _checked(self, name: str, value: Any) -> Any:
        where = f"payload.{name}"
        if name in self.INTEGERS:
            low, high = _INT_RANGES[self.INTEGERS[name]]
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidEvent(where, f"must be an integer, got {type(value).__name__}")
            if not low <= value <= high:
                raise InvalidEvent(where, f"{value} is out of {self.INTEGERS[name]} range")
            return value
        if name in self.DECIMALS:
            return _decimal_text(where, value)
        if name in self.JSON_TEXT:
            return _json_text(where, value)
        if not isinstance(value, str):
            raise InvalidEvent(where, f"must be a string, got {type(value).__name__}")
        if name in self.CHOICES:
            allowed = self.CHOICES[name]
            if value.lower() not in allowed:
                raise InvalidEvent(where, f"{value!r} is not one of {', '.join(allowed)}")
            return value.lower()
        return value

    def to_dict(self) -> dict[str, Any]:
        """The payload object: every field that was given, decimals as strings."""
        return {f.name: v for f in fields(self) if (v := getattr(self, f.name)) is not None}

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()


def _decimal_text(where: str, value: Any) -> str:
    if isinstance(value, bool):
        raise InvalidEvent(where, "must be a decimal string, got bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (float, Decimal)):  # a float as it prints (its shortest round trip)
        if not (math.isfinite(value) if isinstance(value, float) else value.is_finite()):
            raise InvalidEvent(where, f"{value} is not a finite decimal")
        return repr(value) if isinstance(value, float) else str(value)
    if not isinstance(value, str):
        raise InvalidEvent(where, f"must be a decimal string, got {type(value).__name__}")
    try:
        parsed = Decimal(value.strip())
    except InvalidOperation:
        raise InvalidEvent(where, f"{value!r} is not a decimal number") from None
    if not parsed.is_finite():
        raise InvalidEvent(where, f"{value!r} is not a finite decimal")
    return value.strip()


def _json_text(where: str, value: Any) -> str:
    """JSON text as the ingress reads JSON: no NaN or Infinity; a Decimal written as a string
    (its digits kept)."""
    if isinstance(value, (dict, list)):
        try:
            return json.dumps(value, separators=(",", ":"), allow_nan=False, default=_number)
        except (TypeError, ValueError) as exc:
            raise InvalidEvent(where, f"not JSON ({exc})") from None
    if not isinstance(value, str):
        raise InvalidEvent(where, f"must be JSON text or a dict/list, got {type(value).__name__}")
    try:
        json.loads(value, parse_constant=_no_constant)
    except ValueError as exc:
        raise InvalidEvent(where, f"not JSON ({exc})") from None
    return value


def _number(value: Any) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return str(value)
    raise TypeError(f"{value!r} is not JSON")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True, slots=True)
class OrderEventPayload(Payload):
    """ORDER_PLACED, ORDER_FILLED, ORDER_CANCELLED, ORDER_REJECTED, ORDER_EXPIRED."""

    MESSAGE: ClassVar[str] = "OrderEventPayload"
    DECIMALS: ClassVar[frozenset[str]] = frozenset(
        {"quantity", "price", "fill_price", "fill_quantity"}
    )
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"side": ("buy", "sell")}
    INTEGERS: ClassVar[dict[str, str]] = {"timestamp": "int64"}

    order_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    quantity: Decimalish | None = None
    price: Decimalish | None = None
    fill_price: Decimalish | None = None
    fill_quantity: Decimalish | None = None
    status: str | None = None
    exchange: str | None = None
    timestamp: int | None = None
    strategy_id: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class AlertEventPayload(Payload):
    """ALERT_TRIGGERED, ALERT_CREATED, ALERT_DELETED."""

    MESSAGE: ClassVar[str] = "AlertEventPayload"
    DECIMALS: ClassVar[frozenset[str]] = frozenset({"triggered_price"})
    INTEGERS: ClassVar[dict[str, str]] = {"timestamp": "int64"}

    alert_id: str | None = None
    symbol: str | None = None
    condition: str | None = None
    triggered_price: Decimalish | None = None
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class PositionEventPayload(Payload):
    """POSITION_OPENED, POSITION_CLOSED, POSITION_UPDATED, POSITION_LIQUIDATED."""

    MESSAGE: ClassVar[str] = "PositionEventPayload"
    DECIMALS: ClassVar[frozenset[str]] = frozenset(
        {
            "size",
            "entry_price",
            "current_price",
            "unrealized_pnl",
            "realized_pnl",
            "leverage",
            "liquidation_price",
        }
    )
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {"side": ("long", "short")}
    INTEGERS: ClassVar[dict[str, str]] = {"timestamp": "int64"}

    position_id: str | None = None
    symbol: str | None = None
    side: str | None = None
    size: Decimalish | None = None
    entry_price: Decimalish | None = None
    current_price: Decimalish | None = None
    unrealized_pnl: Decimalish | None = None
    realized_pnl: Decimalish | None = None
    leverage: Decimalish | None = None
    liquidation_price: Decimalish | None = None
    exchange: str | None = None
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class WorkspaceEventPayload(Payload):
    """WORKSPACE_CHANGED, CHART_ANNOTATION_ADDED/REMOVED, INDICATOR_UPDATED."""

    MESSAGE: ClassVar[str] = "WorkspaceEventPayload"
    JSON_TEXT: ClassVar[frozenset[str]] = frozenset({"annotation_data", "indicator_params"})
    INTEGERS: ClassVar[dict[str, str]] = {"timestamp": "int64"}

    workspace_id: str | None = None
    change_type: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    annotation_id: str | None = None
    annotation_type: str | None = None
    annotation_data: str | dict | list | None = None
    indicator_name: str | None = None
    indicator_params: str | dict | list | None = None
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class StrategyEventPayload(Payload):
    """STRATEGY_STARTED, STRATEGY_STOPPED, STRATEGY_LOG, STRATEGY_ERROR."""

    MESSAGE: ClassVar[str] = "StrategyEventPayload"
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "log_level": ("debug", "info", "warn", "error")
    }
    JSON_TEXT: ClassVar[frozenset[str]] = frozenset({"details"})
    INTEGERS: ClassVar[dict[str, str]] = {"timestamp": "int64"}

    strategy_id: str | None = None
    strategy_name: str | None = None
    log_level: str | None = None
    message: str | None = None
    details: str | dict | list | None = None
    timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class BacktestEventPayload(Payload):
    """BACKTEST_COMPLETED."""

    MESSAGE: ClassVar[str] = "BacktestEventPayload"
    DECIMALS: ClassVar[frozenset[str]] = frozenset(
        {"total_pnl", "win_rate", "sharpe_ratio", "max_drawdown"}
    )
    INTEGERS: ClassVar[dict[str, str]] = {
        "start_time": "int64",
        "end_time": "int64",
        "total_trades": "int32",
        "winning_trades": "int32",
        "losing_trades": "int32",
        "completed_at": "int64",
    }

    backtest_id: str | None = None
    strategy_id: str | None = None
    strategy_name: str | None = None
    symbol: str | None = None
    timeframe: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    total_trades: int | None = None
    winning_trades: int | None = None
    losing_trades: int | None = None
    total_pnl: Decimalish | None = None
    win_rate: Decimalish | None = None
    sharpe_ratio: Decimalish | None = None
    max_drawdown: Decimalish | None = None
    results_path: str | None = None
    completed_at: int | None = None


#: Event-type name prefixes and the builder they take (as channels render them).
_BY_PREFIX: tuple[tuple[str, type[Payload]], ...] = (
    ("ORDER_", OrderEventPayload),
    ("ALERT_", AlertEventPayload),
    ("POSITION_", PositionEventPayload),
    ("WORKSPACE_", WorkspaceEventPayload),
    ("CHART_", WorkspaceEventPayload),
    ("INDICATOR_", WorkspaceEventPayload),
    ("STRATEGY_", StrategyEventPayload),
    ("BACKTEST_", BacktestEventPayload),
)


def payload_class_for(event_type: int) -> type[Payload] | None:
    """The builder an event type takes, or None (CONTAINER_*, EVENT_ERROR: any JSON object)."""
    name = EventType.Name(event_type)
    return next((cls for prefix, cls in _BY_PREFIX if name.startswith(prefix)), None)
