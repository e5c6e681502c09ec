"""The payload builders hold to the proto's messages, and refuse a bad value at the call site
with the same error type the ingress answers with."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from google.protobuf.descriptor import FieldDescriptor

from client import (
    AlertEventPayload,
    BacktestEventPayload,
    OrderEventPayload,
    Payload,
    PositionEventPayload,
    StrategyEventPayload,
    WorkspaceEventPayload,
    checked_frame,
    make_event,
    payload_class_for,
)
from proto import EventType, InvalidEvent, Limits, TooLarge, parse_payload, user_events_pb2

BUILDERS = [
    OrderEventPayload,
    AlertEventPayload,
    PositionEventPayload,
    WorkspaceEventPayload,
    StrategyEventPayload,
    BacktestEventPayload,
]
INTEGER_TYPES = {FieldDescriptor.TYPE_INT64: "int64", FieldDescriptor.TYPE_INT32: "int32"}


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
def test_each_builder_has_the_fields_of_its_proto_message(builder: type[Payload]) -> None:
    descriptor = getattr(user_events_pb2, builder.MESSAGE).DESCRIPTOR
    assert builder.__name__ == builder.MESSAGE
    assert [f.name for f in dataclasses.fields(builder)] == [f.name for f in descriptor.fields]
    integers = {f.name: INTEGER_TYPES[f.type] for f in descriptor.fields if f.type in INTEGER_TYPES}
    assert integers == builder.INTEGERS
    strings = {f.name for f in descriptor.fields if f.type == FieldDescriptor.TYPE_STRING}
    assert builder.DECIMALS | builder.JSON_TEXT | set(builder.CHOICES) <= strings


def test_every_payload_message_of_the_proto_has_a_builder() -> None:
    messages = {
        n for n in user_events_pb2.DESCRIPTOR.message_types_by_name if n.endswith("Payload")
    }
    assert messages == {b.MESSAGE for b in BUILDERS}


def test_a_built_payload_is_the_json_the_channels_read() -> None:
    built = OrderEventPayload(
        order_id="o-1", symbol="BTC/USDT", side="BUY", fill_quantity=Decimal("0.50"),
        fill_price="50000.10", quantity=2, price=0.1, timestamp=1_700_000_000_000,
    )  # fmt: skip
    parsed = parse_payload(built.to_json())
    assert parsed == {
        "order_id": "o-1",
        "symbol": "BTC/USDT",
        "side": "buy",
        "quantity": "2",
        "price": "0.1",
        "fill_price": "50000.10",
        "fill_quantity": "0.50",
        "timestamp": 1_700_000_000_000,
    }
    details = StrategyEventPayload(strategy_id="s", log_level="WARN", details={"k": [1, 2]})
    assert json.loads(details.to_dict()["details"]) == {"k": [1, 2]}
    exact = StrategyEventPayload(details={"pnl": Decimal("0.10")})
    assert json.loads(exact.to_dict()["details"]) == {"pnl": "0.10"}


@pytest.mark.parametrize(
    ("build", "field", "problem"),
    [
        (lambda: OrderEventPayload(fill_price="fifty"), "payload.fill_price", "'fifty' is not a decimal number"),
        (lambda: OrderEventPayload(price="NaN"), "payload.price", "'NaN' is not a finite decimal"),
        (lambda: OrderEventPayload(price=float("inf")), "payload.price", "inf is not a finite decimal"),
        (lambda: OrderEventPayload(quantity=True), "payload.quantity", "must be a decimal string, got bool"),
        (lambda: OrderEventPayload(side="hold"), "payload.side", "'hold' is not one of buy, sell"),
        (lambda: PositionEventPayload(side="buy"), "payload.side", "'buy' is not one of long, short"),
        (lambda: OrderEventPayload(symbol=42), "payload.symbol", "must be a string, got int"),
        (lambda: OrderEventPayload(timestamp="now"), "payload.timestamp", "must be an integer, got str"),
        (lambda: BacktestEventPayload(total_trades=2**31), "payload.total_trades", "2147483648 is out of int32 range"),
        (lambda: StrategyEventPayload(log_level="fatal"), "payload.log_level", "'fatal' is not one of debug, info, warn, error"),
        (lambda: StrategyEventPayload(details="{oops"), "payload.details", "not JSON"),
        (lambda: WorkspaceEventPayload(annotation_data=3), "payload.annotation_data", "must be JSON text or a dict/list, got int"),
        (lambda: StrategyEventPayload(details={"x": float("nan")}), "payload.details", "not JSON"),
        (lambda: StrategyEventPayload(details='{"x": NaN}'), "payload.details", "NaN is not JSON"),
        (lambda: StrategyEventPayload(details={"x": object()}), "payload.details", "is not JSON"),
    ],
)  # fmt: skip
def test_a_bad_value_is_refused_naming_the_field(build, field, problem) -> None:
    with pytest.raises(InvalidEvent) as caught:
        build()
    assert caught.value.field == field
    assert problem in str(caught.value)


def test_an_event_type_takes_its_own_builder() -> None:
    assert payload_class_for(EventType.ORDER_FILLED) is OrderEventPayload
    assert payload_class_for(EventType.POSITION_LIQUIDATED) is PositionEventPayload
    assert payload_class_for(EventType.INDICATOR_UPDATED) is WorkspaceEventPayload
    assert payload_class_for(EventType.CONTAINER_READY) is None
    with pytest.raises(
        InvalidEvent, match="ORDER_FILLED takes OrderEventPayload, not AlertEventPayload"
    ):
        make_event("u1", "ORDER_FILLED", "CRITICAL", payload=AlertEventPayload(alert_id="a"))
    # A type with no payload message takes any builder or dict.
    make_event("u1", "EVENT_ERROR", "CRITICAL", payload=StrategyEventPayload(message="x"))


def test_make_event_names_an_unknown_name_and_checks_like_the_ingress() -> None:
    with pytest.raises(InvalidEvent, match="event_type: unknown EventType 'ORDER_EXPLODED'"):
        make_event("u1", "ORDER_EXPLODED", "CRITICAL")
    with pytest.raises(
        InvalidEvent, match=r"delivery.channels\[1\].channel: unknown ChannelType 'PIGEON'"
    ):
        make_event("u1", "ORDER_FILLED", "CRITICAL", ["EMAIL", "PIGEON"])
    event = make_event("u1", "ORDER_FILLED", "critical", ["email", ("telegram", True)])
    assert [(c.channel, c.only_if_active) for c in event.delivery.channels] == [
        (3, False),
        (2, True),
    ]
    # The ingress's own checks run before anything is sent: the same reasons an ACK_ERROR gives.
    with pytest.raises(InvalidEvent, match="user_id: must be 1-128 characters"):
        checked_frame(make_event("bad user", "ORDER_FILLED", "CRITICAL"), Limits())
    with pytest.raises(InvalidEvent, match=r"delivery.channels\[1\].channel: EMAIL repeated"):
        checked_frame(make_event("u1", "ORDER_FILLED", "CRITICAL", ["EMAIL", "EMAIL"]), Limits())
    big = make_event("u1", "STRATEGY_LOG", "NORMAL", payload={"message": "x" * 2000})
    with pytest.raises(TooLarge, match="payload: .* exceeds NOTIFY_MAX_PAYLOAD_BYTES=1000"):
        checked_frame(big, Limits(max_payload_bytes=1000))
