"""Every wire-format error, under one base class; each carries the text sent back as ACK_ERROR.

FrameError
 ├── EmptyFrame            a frame with no bytes at all
 ├── UnknownMessageType    the first byte is neither 0x20 nor 0x21
 ├── DecodeFailed          the bytes after the type byte do not parse as the message
 └── InvalidEvent          it parses, but breaks a rule of docs/protocol.md ("Field rules")
      ├── MissingField     a required field is unset (proto3 reads it as zero)
      └── TooLarge         payload or frame over its configured limit
"""

from __future__ import annotations

__all__ = [
    "DecodeFailed",
    "EmptyFrame",
    "FrameError",
    "InvalidEvent",
    "MissingField",
    "TooLarge",
    "UnknownMessageType",
]


class FrameError(Exception):
    """Base class: a frame or event we refuse. `str(err)` is the reason sent to the container."""


class EmptyFrame(FrameError):
    """The frame has no bytes."""

    def __init__(self) -> None:
        super().__init__("empty frame")


class UnknownMessageType(FrameError):
    """The type byte is not one we know."""

    def __init__(self, type_byte: int) -> None:
        self.type_byte = type_byte
        super().__init__(f"unknown message type byte 0x{type_byte:02x}")


class DecodeFailed(FrameError):
    """The protobuf bytes do not parse; `data` keeps the bad bytes."""

    def __init__(self, message_name: str, data: bytes, cause: str) -> None:
        self.data = data
        super().__init__(f"{message_name} does not parse ({len(data)} bytes): {cause}")


class InvalidEvent(FrameError):
    """A parsed UserEvent breaks a validation rule; `field` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class MissingField(InvalidEvent):
    """A field the pipeline needs is unset."""

    def __init__(self, field: str) -> None:
        super().__init__(field, "missing")


class TooLarge(InvalidEvent):
    """Payload or frame bigger than the configured limit."""

    def __init__(self, field: str, size: int, limit_name: str, limit: int) -> None:
        super().__init__(field, f"{size} bytes exceeds {limit_name}={limit}")
