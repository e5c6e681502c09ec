"""Relay messages (workers -> ingresses): round trips, and a specific reason for each bad one."""

from __future__ import annotations

import pytest

from proto import (
    AckRelay,
    AckStatus,
    ChannelType,
    EventAck,
    PublishRelay,
    RelayError,
    UserEvent,
    ack_frame,
    decode_frame,
    decode_relay,
    encode_event,
    encode_relay,
)

ACK = ack_frame("e-1", AckStatus.DELIVERED, ChannelType.SLACK)
EVENT = encode_event(UserEvent(user_id="u1", event_id="e-1"))


def test_ack_frame_sets_status_and_channel_explicitly() -> None:
    ack = decode_frame(ack_frame("e-1", AckStatus.ACK_ERROR, error="SLACK: permanent"))
    assert isinstance(ack, EventAck)
    assert (ack.event_id, ack.status, ack.error_message) == (
        "e-1",
        AckStatus.ACK_ERROR,
        "SLACK: permanent",
    )
    delivered = decode_frame(ACK)
    assert (delivered.status, delivered.delivered_via) == (AckStatus.DELIVERED, ChannelType.SLACK)


@pytest.mark.parametrize(
    "message",
    [
        AckRelay(b"container-1", ACK),
        AckRelay(bytes(range(1, 255)), ACK),
        PublishRelay("u1", EVENT, 1767225600.25),
    ],
    ids=["ack", "binary routing id", "publish"],
)
def test_round_trip(message) -> None:
    data = encode_relay(message)
    assert isinstance(data, bytes)
    assert decode_relay(data) == message


BAD = {
    "empty": (b"", "empty message"),
    "unknown kind": (b"\x07abc", "unknown relay message kind 0x07"),
    "ack truncated before the id": (b"\x01", "truncated before the id"),
    "ack id longer than the message": (b"\x01\x09abc", "truncated id"),
    "ack zero-length id": (b"\x01\x00" + ACK, "truncated id"),
    "ack without a frame": (b"\x01\x01a", "ack message without a 0x21 frame"),
    "ack carrying an event": (b"\x01\x01a" + EVENT, "ack message without a 0x21 frame"),
    "publish truncated": (b"\x02\x00\x00", "truncated publish message"),
    "publish bad user": (
        encode_relay(PublishRelay("u1", EVENT, 1.0)).replace(b"\x02u1", b"\x02u\x00"),
        "publish message for an invalid user id",
    ),
    "publish carrying an ack": (
        encode_relay(PublishRelay("u1", ACK, 1.0)),
        "publish message without a 0x20 frame",
    ),
}


@pytest.mark.parametrize("data,reason", BAD.values(), ids=BAD.keys())
def test_malformed_messages_name_the_problem(data: bytes, reason: str) -> None:
    with pytest.raises(RelayError) as refused:
        decode_relay(data)
    assert str(refused.value) == reason
