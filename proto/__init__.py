"""Wire format only: the compiled contract, 0x20/0x21 framing, validation and its error reasons,
and the relay messages from workers to ingresses."""

from .errors import (
    DecodeFailed,
    EmptyFrame,
    FrameError,
    InvalidEvent,
    MissingField,
    TooLarge,
    UnknownMessageType,
)
from .framing import (
    MessageType,
    ack_frame,
    decode_frame,
    encode_ack,
    encode_event,
    topic_for,
    user_of_topic,
)
from .held import held_message, held_until
from .relay import AckRelay, PublishRelay, RelayError, decode_relay, encode_relay
from .supersede import SUPERSEDING_TYPES, supersede_key
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
from .validation import (
    ID_PATTERN,
    MAX_JSON_DEPTH,
    Limits,
    parse_payload,
    usable_event_id,
    validate_event,
)

__all__ = [
    "AckRelay",
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
    "MAX_JSON_DEPTH",
    "MessageType",
    "MissingField",
    "Priority",
    "PublishRelay",
    "RelayError",
    "SUPERSEDING_TYPES",
    "TooLarge",
    "UnknownMessageType",
    "UserEvent",
    "ack_frame",
    "decode_frame",
    "decode_relay",
    "encode_ack",
    "encode_event",
    "encode_relay",
    "held_message",
    "held_until",
    "parse_payload",
    "supersede_key",
    "topic_for",
    "usable_event_id",
    "user_of_topic",
    "validate_event",
]
