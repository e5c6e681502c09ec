"""Framing: 0x20/0x21 + protobuf round trips, every refusal of decode_frame, and XPUB topics."""

from __future__ import annotations

import json
import random

import pytest

from proto import (
    AckStatus,
    ChannelPreference,
    ChannelType,
    DecodeFailed,
    DeliverySpec,
    EmptyFrame,
    EventAck,
    EventType,
    FrameError,
    MessageType,
    Priority,
    UnknownMessageType,
    UserEvent,
    decode_frame,
    encode_ack,
    encode_event,
    topic_for,
    user_of_topic,
)

FILL = json.dumps(
    {"symbol": "BTC/USDT", "side": "buy", "fill_price": "50000", "fill_quantity": "0.5"}
).encode()


def critical_fill() -> UserEvent:
    return UserEvent(
        user_id="u1",
        event_id="e-0001",
        timestamp=1767225600000,
        event_type=EventType.ORDER_FILLED,
        payload=FILL,
        delivery=DeliverySpec(
            priority=Priority.CRITICAL,
            channels=[
                ChannelPreference(channel=ChannelType.DISCORD),
                ChannelPreference(channel=ChannelType.SLACK, only_if_active=True),
            ],
        ),
    )


EVENTS = {
    "critical fill, two channels": critical_fill(),
    "all zero values but ids": UserEvent(user_id="u1", event_id="e1", delivery=DeliverySpec()),
    "no delivery at all": UserEvent(user_id="u1", event_id="e1"),
    "informational, unicode payload": UserEvent(
        user_id="a.b:c@d-e_f",
        event_id="x" * 128,
        event_type=EventType.INDICATOR_UPDATED,
        payload='{"name": "RSI ✓"}'.encode(),
        delivery=DeliverySpec(priority=Priority.INFORMATIONAL),
    ),
    "negative timestamp": UserEvent(user_id="u1", event_id="e1", timestamp=-1),
    "empty message": UserEvent(),
}

ACKS = {
    "queued": EventAck(event_id="e-0001", status=AckStatus.QUEUED),
    "delivered via discord": EventAck(
        event_id="e-0001", status=AckStatus.DELIVERED, delivered_via=ChannelType.DISCORD
    ),
    "delivered via web (status 0 is not on the wire)": EventAck(
        event_id="e-0001", status=AckStatus.DELIVERED, delivered_via=ChannelType.WEB
    ),
    "error": EventAck(
        event_id="e-0001",
        status=AckStatus.ACK_ERROR,
        error_message="discord: webhook 404; slack: no address",
    ),
}


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS.keys())
def test_event_round_trip(event: UserEvent) -> None:
    frame = encode_event(event)
    assert frame[0] == MessageType.USER_EVENT == 0x20
    assert frame[1:] == event.SerializeToString()
    decoded = decode_frame(frame)
    assert isinstance(decoded, UserEvent)
    assert decoded == event
    assert decoded.HasField("delivery") == event.HasField("delivery")


@pytest.mark.parametrize("ack", ACKS.values(), ids=ACKS.keys())
def test_ack_round_trip(ack: EventAck) -> None:
    frame = encode_ack(ack)
    assert frame[0] == MessageType.EVENT_ACK == 0x21
    decoded = decode_frame(frame)
    assert isinstance(decoded, EventAck)
    assert decoded == ack
    assert decoded.status == ack.status


def test_unknown_enum_numbers_survive_decoding() -> None:
    """proto3 enums are open: decoding keeps 99, so validation must refuse it (not a default)."""
    event = UserEvent(user_id="u1", event_id="e1", delivery=DeliverySpec())
    event.event_type = 99
    event.delivery.priority = 7
    decoded = decode_frame(encode_event(event))
    assert (decoded.event_type, decoded.delivery.priority) == (99, 7)


def test_empty_frame() -> None:
    with pytest.raises(EmptyFrame, match="^empty frame$"):
        decode_frame(b"")


@pytest.mark.parametrize("type_byte", [0x00, 0x01, 0x0A, 0x1F, 0x22, 0x7F, 0x80, 0xFF])
@pytest.mark.parametrize("rest", [b"", critical_fill().SerializeToString()], ids=["alone", "body"])
def test_unknown_message_type_names_the_byte(type_byte: int, rest: bytes) -> None:
    with pytest.raises(UnknownMessageType) as caught:
        decode_frame(bytes([type_byte]) + rest)
    assert caught.value.type_byte == type_byte
    assert f"0x{type_byte:02x}" in str(caught.value)


GOOD_EVENT = encode_event(critical_fill())
GOOD_ACK = encode_ack(ACKS["error"])

TRUNCATED = {
    # delivery (field 6, length-delimited) is serialized last: losing its last byte truncates it
    "event minus last byte": GOOD_EVENT[:-1],
    "event cut inside payload": GOOD_EVENT[: GOOD_EVENT.index(b"BTC") + 2],
    "ack minus last byte": GOOD_ACK[:-1],
    "string length 5, two bytes follow": b"\x20\x0a\x05ab",
    "tag without its length": b"\x20\x12",
    "varint never terminated": b"\x20\x18\xff\xff",
    "ack: string cut short": b"\x21\x0a\x03e-",
}


@pytest.mark.parametrize("frame", TRUNCATED.values(), ids=TRUNCATED.keys())
def test_truncated_protobuf_is_decode_failed(frame: bytes) -> None:
    with pytest.raises(DecodeFailed) as caught:
        decode_frame(frame)
    name = "UserEvent" if frame[0] == 0x20 else "EventAck"
    assert str(caught.value).startswith(f"{name} does not parse ({len(frame) - 1} bytes)")
    assert caught.value.data == frame[1:]


GARBAGE = {
    "0xff 0xff 0xff": b"\xff\xff\xff",
    "wire type 7": b"\x07",
    "field number 0": b"\x00",
    "end-group without start": b"\x0c",
    "length 2**32": b"\x0a\xff\xff\xff\xff\x0f",
    "user_id not UTF-8": b"\x0a\x02\xff\xfe",
    "delivery with a bad inner tag": b"\x32\x02\x07\x00",
    "deep group nesting": b"\x0b" * 10_000,
}


@pytest.mark.parametrize("body", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_after_event_type_is_decode_failed(body: bytes) -> None:
    with pytest.raises(DecodeFailed):
        decode_frame(b"\x20" + body)


def test_random_bytes_either_parse_or_raise_decode_failed() -> None:
    """Whatever a container sends, decode_frame raises nothing but FrameError."""
    rng = random.Random(0x20)
    failed = 0
    for _ in range(5000):
        frame = b"\x20" + rng.randbytes(rng.randint(1, 64))
        try:
            assert isinstance(decode_frame(frame), UserEvent)
        except DecodeFailed:
            failed += 1
    assert failed > 4000  # most random bytes are not a UserEvent


@pytest.mark.parametrize("frame", [b"", b"\x99", b"\x20\x07"], ids=["empty", "type", "body"])
def test_every_refusal_is_a_frame_error(frame: bytes) -> None:
    with pytest.raises(FrameError):
        decode_frame(frame)


@pytest.mark.parametrize(
    ("user_id", "topic"),
    [("u1", b"u1\x00"), ("u10", b"u10\x00"), ("a.b:c@d-e_f", b"a.b:c@d-e_f\x00")],
)
def test_topic_for(user_id: str, topic: bytes) -> None:
    assert topic_for(user_id) == topic
    assert user_of_topic(topic) == user_id


def test_subscription_to_u1_does_not_match_u10() -> None:
    """ZMQ matches subscriptions by prefix; the NUL ends the id, so u1 never sees u10."""
    assert b"u10".startswith(b"u1")
    assert not topic_for("u10").startswith(topic_for("u1"))
    assert topic_for("u1").startswith(topic_for("u1"))


NOT_PRESENCE = {
    "empty (tap everything)": b"",
    "prefix without NUL": b"u1",
    "NUL alone": b"\x00",
    "NUL inside": b"u\x001\x00",
    "two NULs at the end": b"u1\x00\x00",
    "something after the NUL": b"u1\x00x",
    "not UTF-8": b"\xff\xfe\x00",
    "space in id": b"u 1\x00",
    "non-ASCII id": "ü\x00".encode(),
    "129-byte id": b"u" * 129 + b"\x00",
}


@pytest.mark.parametrize("topic", NOT_PRESENCE.values(), ids=NOT_PRESENCE.keys())
def test_other_prefixes_are_not_presence(topic: bytes) -> None:
    assert user_of_topic(topic) is None


def test_longest_id_is_presence() -> None:
    assert user_of_topic(b"u" * 128 + b"\x00") == "u" * 128
