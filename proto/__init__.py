"""Wire format only: the compiled contract, 0x20/0x21 framing, validation and its error reasons."""

from .errors import (
    DecodeFailed,
    EmptyFrame,
    FrameError,
    InvalidEvent,
    MissingField,
    TooLarge,
    UnknownMessageType,
)
from .framing import MessageType, decode_frame, encode_ack, encode_event, topic_for, user_of_topic
from .user_events_pb2 import (
    AckStatus,
    ChannelPreference,
    ChannelType,
    DeliverySpec,
    EventAck,
    EventType,
    Priority,
    UserEvent,
)
from .validation import ID_PATTERN, Limits, usable_event_id, validate_event

__all__ = [
    "AckStatus",
    "ChannelPreference",
    "ChannelType",
    "DecodeFailed",
    "DeliverySpec",
    "EmptyFrame",
    "EventAck",
    "EventType",
    "FrameError",
    "ID_PATTERN",
    "InvalidEvent",
    "Limits",
    "MessageType",
    "MissingField",
    "Priority",
    "TooLarge",
    "UnknownMessageType",
    "UserEvent",
    "decode_frame",
    "encode_ack",
    "encode_event",
    "topic_for",
    "usable_event_id",
    "user_of_topic",
    "validate_event",
]
