"""Validation: what validate_event accepts, and the exact ACK_ERROR text of each refusal."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest

from proto import (
    MAX_JSON_DEPTH,
    ChannelPreference,
    ChannelType,
    DeliverySpec,
    EventType,
    InvalidEvent,
    Limits,
    MissingField,
    Priority,
    TooLarge,
    UserEvent,
    encode_event,
    usable_event_id,
    validate_event,
)

SMALL = Limits(max_payload_bytes=64, max_frame_bytes=256)


def make_event(priority: int = Priority.CRITICAL) -> UserEvent:
    return UserEvent(
        user_id="u1",
        event_id="e-0001",
        timestamp=1767225600000,
        event_type=EventType.ORDER_FILLED,
        payload=b'{"symbol":"BTC/USDT"}',
        delivery=DeliverySpec(
            priority=priority,
            channels=[
                ChannelPreference(channel=ChannelType.DISCORD),
                ChannelPreference(channel=ChannelType.SLACK),
            ],
        ),
    )


def check(event: UserEvent, limits: Limits = SMALL, frame_size: int | None = None) -> None:
    size = len(encode_event(event)) if frame_size is None else frame_size
    validate_event(event, size, limits)


Mutation = Callable[[UserEvent], object]


def set_payload(payload: bytes) -> Mutation:
    return lambda e: setattr(e, "payload", payload)


VALID: dict[str, Mutation] = {
    "as built": lambda e: None,
    "informational": lambda e: setattr(e.delivery, "priority", Priority.INFORMATIONAL),
    "normal": lambda e: setattr(e.delivery, "priority", Priority.NORMAL),
    "empty channels (default route)": lambda e: e.delivery.ClearField("channels"),
    "delivery present but all zero": lambda e: e.delivery.CopyFrom(DeliverySpec()),
    "every channel type once": lambda e: (
        e.delivery.ClearField("channels"),
        e.delivery.channels.extend(
            ChannelPreference(channel=c, only_if_active=True) for c in ChannelType.values()
        ),
    ),
    "no payload": set_payload(b""),
    "empty JSON object": set_payload(b"{}"),
    "nested JSON object": set_payload(b'{"a":{"b":[1,2,null]}}'),
    "every allowed id character": lambda e: setattr(e, "user_id", "ABCXYZabcxyz0123456789._:@-"),
    "128-byte ids": lambda e: (setattr(e, "user_id", "u" * 128), setattr(e, "event_id", "e" * 128)),
    "one-byte ids": lambda e: (setattr(e, "user_id", "u"), setattr(e, "event_id", "e")),
    "highest event type": lambda e: setattr(e, "event_type", EventType.EVENT_ERROR),
    "timestamp unset": lambda e: e.ClearField("timestamp"),
}


@pytest.mark.parametrize("mutate", VALID.values(), ids=VALID.keys())
def test_valid_event_passes(mutate: Mutation) -> None:
    event = make_event()
    mutate(event)
    assert event.HasField("delivery")
    check(event, Limits())
    check(event, Limits(max_payload_bytes=len(event.payload), max_frame_bytes=10_000))


def test_payload_exactly_at_limit_passes() -> None:
    event = make_event()
    event.payload = b'{"k":"' + b"x" * 56 + b'"}'
    assert len(event.payload) == SMALL.max_payload_bytes
    validate_event(event, 0, SMALL)


def test_the_parsed_payload_is_handed_on_with_exact_decimals() -> None:
    event = make_event()
    event.payload = b'{"symbol":"BTC/USDT","fill_price":50000.10,"n":3}'
    payload = validate_event(event, 0, Limits())
    assert payload == {"symbol": "BTC/USDT", "fill_price": Decimal("50000.10"), "n": 3}
    assert str(payload["fill_price"]) == "50000.10"


def test_payload_nesting_up_to_the_depth_limit_passes_and_one_more_is_refused() -> None:
    event = make_event()
    inner = MAX_JSON_DEPTH - 1  # the payload object itself is the first level
    event.payload = b'{"a":' + b"[" * inner + b"]" * inner + b"}"
    validate_event(event, 0, Limits())
    event.payload = b'{"a":' + b"[" * (inner + 1) + b"]" * (inner + 1) + b"}"
    with pytest.raises(InvalidEvent) as refused:
        validate_event(event, 0, Limits())
    assert str(refused.value) == "payload: JSON nested deeper than MAX_JSON_DEPTH=32"


def test_a_repeated_channel_is_named() -> None:
    event = make_event()
    event.delivery.channels.add(channel=ChannelType.DISCORD)
    with pytest.raises(InvalidEvent) as refused:
        validate_event(event, 0, Limits())
    assert str(refused.value) == (
        "delivery.channels[2].channel: DISCORD repeated (each channel may be named once)"
    )


def test_frame_exactly_at_limit_passes() -> None:
    validate_event(make_event(), SMALL.max_frame_bytes, SMALL)


INVALID: dict[str, tuple[Mutation, type[InvalidEvent], str]] = {
    "empty user_id": (lambda e: setattr(e, "user_id", ""), MissingField, "user_id: missing"),
    "empty event_id": (lambda e: setattr(e, "event_id", ""), MissingField, "event_id: missing"),
    "space in user_id": (
        lambda e: setattr(e, "user_id", "u 1"),
        InvalidEvent,
        "user_id: must be 1-128 characters of [A-Za-z0-9._:@-]",
    ),
    "slash in event_id": (
        lambda e: setattr(e, "event_id", "e/1"),
        InvalidEvent,
        "event_id: must be 1-128 characters",
    ),
    "non-ASCII user_id": (lambda e: setattr(e, "user_id", "ü"), InvalidEvent, "user_id: must be"),
    "NUL in user_id": (lambda e: setattr(e, "user_id", "u1\x00u2"), InvalidEvent, "user_id: "),
    "trailing NUL in user_id": (lambda e: setattr(e, "user_id", "u1\x00"), InvalidEvent, "user_id"),
    "newline after user_id": (lambda e: setattr(e, "user_id", "u1\n"), InvalidEvent, "user_id"),
    "129-byte user_id": (lambda e: setattr(e, "user_id", "u" * 129), InvalidEvent, "user_id: "),
    "129-byte event_id": (lambda e: setattr(e, "event_id", "e" * 129), InvalidEvent, "event_id: "),
    "unknown event_type": (
        lambda e: setattr(e, "event_type", 99),
        InvalidEvent,
        "event_type: unknown EventType value 99",
    ),
    "event_type in a numbering gap": (
        lambda e: setattr(e, "event_type", 5),
        InvalidEvent,
        "event_type: unknown EventType value 5",
    ),
    "unknown priority": (
        lambda e: setattr(e.delivery, "priority", 3),
        InvalidEvent,
        "delivery.priority: unknown Priority value 3",
    ),
    "unknown channel in channels[1]": (
        lambda e: setattr(e.delivery.channels[1], "channel", 7),
        InvalidEvent,
        "delivery.channels[1].channel: unknown ChannelType value 7",
    ),
    "missing delivery": (lambda e: e.ClearField("delivery"), MissingField, "delivery: missing"),
    "payload not JSON": (set_payload(b"hello"), InvalidEvent, "payload: not JSON ("),
    "payload truncated JSON": (set_payload(b'{"a":'), InvalidEvent, "payload: not JSON ("),
    "payload not UTF-8": (set_payload(b'{"a":"\xff"}'), InvalidEvent, "payload: not JSON ("),
    "payload UTF-16": (set_payload('{"a":1}'.encode("utf-16")), InvalidEvent, "payload: not JSON"),
    "payload NaN": (set_payload(b'{"a":NaN}'), InvalidEvent, "payload: not JSON (NaN is not JSON)"),
    "payload Infinity": (set_payload(b'{"a":-Infinity}'), InvalidEvent, "payload: not JSON"),
    "payload nested too deeply": (
        set_payload(b"[" * 60_000),
        InvalidEvent,
        "payload: JSON nested deeper than MAX_JSON_DEPTH=32",
    ),
    "a channel named twice": (
        lambda e: e.delivery.channels.add(channel=ChannelType.SLACK),
        InvalidEvent,
        "delivery.channels[2].channel: SLACK repeated (each channel may be named once)",
    ),
    "payload JSON array": (
        set_payload(b"[1,2]"),
        InvalidEvent,
        "payload: must be a JSON object, got list",
    ),
    "payload JSON string": (
        set_payload(b'"hi"'),
        InvalidEvent,
        "payload: must be a JSON object, got str",
    ),
    "payload JSON null": (
        set_payload(b"null"),
        InvalidEvent,
        "payload: must be a JSON object, got NoneType",
    ),
}


@pytest.mark.parametrize(("mutate", "error", "message"), INVALID.values(), ids=INVALID.keys())
@pytest.mark.parametrize("priority", [Priority.INFORMATIONAL, Priority.NORMAL, Priority.CRITICAL])
def test_invalid_event_is_refused_with_field_and_problem(
    mutate: Mutation, error: type[InvalidEvent], message: str, priority: int
) -> None:
    event = make_event(priority)
    mutate(event)
    with pytest.raises(InvalidEvent) as caught:
        check(event, Limits())
    assert type(caught.value) is error
    assert str(caught.value).startswith(message)
    assert str(caught.value).startswith(caught.value.field + ": ")


def test_payload_over_limit_names_the_setting() -> None:
    event = make_event()
    event.payload = b'{"k":"' + b"x" * 57 + b'"}'
    with pytest.raises(TooLarge) as caught:
        validate_event(event, 0, SMALL)
    assert caught.value.field == "payload"
    assert str(caught.value) == "payload: 65 bytes exceeds NOTIFY_MAX_PAYLOAD_BYTES=64"


def test_payload_over_default_limit() -> None:
    event = make_event()
    event.payload = json.dumps({"k": "x" * 65536}).encode()
    with pytest.raises(TooLarge, match=r"NOTIFY_MAX_PAYLOAD_BYTES=65536$"):
        check(event, Limits())


def test_frame_over_limit_names_the_setting() -> None:
    event = make_event()
    with pytest.raises(TooLarge) as caught:
        validate_event(event, SMALL.max_frame_bytes + 1, SMALL)
    assert caught.value.field == "frame"
    assert str(caught.value) == "frame: 257 bytes exceeds NOTIFY_MAX_FRAME_BYTES=256"


def test_frame_over_default_limit_wins_over_other_problems() -> None:
    """A huge frame is refused for its size even if its payload is also bad."""
    event = make_event()
    event.payload = b"x" * 300_000
    with pytest.raises(TooLarge, match=r"^frame: \d+ bytes exceeds NOTIFY_MAX_FRAME_BYTES=262144$"):
        check(event, Limits())


USABLE = {
    "e-0001": "e-0001",
    "e" * 128: "e" * 128,
    "a.b:c@d_e-f": "a.b:c@d_e-f",
    "": None,
    "e" * 129: None,
    "e 1": None,
    "e\x00": None,
    "e1\n": None,
    "é": None,
}


@pytest.mark.parametrize(("event_id", "usable"), USABLE.items(), ids=repr)
def test_usable_event_id(event_id: str, usable: str | None) -> None:
    event = make_event()
    event.event_id = event_id
    assert usable_event_id(event) == usable


def test_usable_event_id_of_an_otherwise_invalid_event() -> None:
    """An invalid event with a good id can still be answered ACK_ERROR."""
    event = make_event()
    event.user_id = "bad user"
    event.ClearField("delivery")
    assert usable_event_id(event) == "e-0001"
    with pytest.raises(InvalidEvent):
        check(event)
