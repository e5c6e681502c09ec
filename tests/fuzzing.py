"""Hostile frames for the fuzz tests (tests/*/test_fuzz*.py) and bench/fuzz.py: random bytes,
valid events mutated byte by byte, huge and deeply nested fields, invalid UTF-8, every enum out
of range. Each comes with whether a specific ACK_ERROR is owed: the frame parses as a UserEvent
with a usable event id, yet breaks a rule.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import strategies as st

from client import make_event
from proto import (
    FrameError,
    Limits,
    UserEvent,
    decode_frame,
    encode_event,
    usable_event_id,
    validate_event,
)

__all__ = ["Hostile", "classify", "hostile_frames", "hostile_frame_strategy", "valid_event"]

LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Hostile:
    """One frame, and the event id an ACK_ERROR is owed to (None: no answer is owed)."""

    frame: bytes
    owed_error: str | None


def classify(frame: bytes) -> Hostile:
    """What the ingress owes this frame: an ACK_ERROR to its event id when it parses as a
    UserEvent with a usable id but is invalid; nothing when it does not parse or is valid."""
    try:
        event = decode_frame(frame)
    except FrameError:
        return Hostile(frame, None)
    if not isinstance(event, UserEvent):
        return Hostile(frame, None)
    try:
        validate_event(event, len(frame), LIMITS)
    except FrameError:
        return Hostile(frame, usable_event_id(event))
    return Hostile(frame, None)


def valid_event(
    user_id: str, priority: str = "CRITICAL", channels=(("DISCORD", False),)
) -> UserEvent:
    return make_event(
        user_id, "ORDER_FILLED", priority, list(channels), {"symbol": "X", "side": "buy"}
    )


def _huge(rng: random.Random) -> bytes:
    event = valid_event(f"fuzz-{rng.randrange(1000)}")
    choice = rng.randrange(4)
    if choice == 0:
        event.payload = (
            b'{"x":"' + b"y" * (LIMITS.max_payload_bytes + rng.randrange(1, 999)) + b'"}'
        )
    elif choice == 1:
        event.payload = b'{"a":' + b"[" * rng.randrange(33, 5000) + b"]" * 10 + b"}"
    elif choice == 2:
        event.payload = b'{"x":"\xff\xfe' + bytes(rng.randrange(256) for _ in range(50)) + b'"}'
    else:
        event.user_id = "u" * rng.randrange(129, 2000)
    return encode_event(event)


def _out_of_range(rng: random.Random) -> bytes:
    event = valid_event(f"fuzz-{rng.randrange(1000)}")
    field = rng.randrange(3)
    if field == 0:
        event.event_type = rng.choice([-1, 5, 99, 2**31 - 1])
    elif field == 1:
        event.delivery.priority = rng.choice([3, 7, -2])
    else:
        event.delivery.channels.add(channel=rng.choice([7, 100, -5]))
    return encode_event(event)


def _mutated(rng: random.Random) -> bytes:
    frame = bytearray(encode_event(valid_event(f"fuzz-{rng.randrange(1000)}")))
    for _ in range(rng.randrange(1, 6)):
        at = rng.randrange(len(frame))
        action = rng.randrange(3)
        if action == 0:
            frame[at] = rng.randrange(256)
        elif action == 1:
            del frame[at]
        else:
            frame.insert(at, rng.randrange(256))
    return bytes(frame)


def hostile_frames(seed: int, count: int) -> list[Hostile]:
    """`count` hostile frames, reproducible from `seed`."""
    rng = random.Random(seed)
    makers = [
        lambda: bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))),
        lambda: b"\x20" + bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300))),
        lambda: _mutated(rng),
        lambda: _mutated(rng),
        lambda: _huge(rng),
        lambda: _out_of_range(rng),
        lambda: b"\x21" + encode_event(valid_event("x"))[1:],  # an "ack" from a container
    ]
    return [classify(rng.choice(makers)()) for _ in range(count)]


def hostile_frame_strategy() -> st.SearchStrategy[bytes]:
    """Hypothesis: random bytes, and valid frames with bytes flipped, cut or inserted."""
    valid = encode_event(valid_event("fuzz-u", "NORMAL"))
    mutated = st.tuples(
        st.integers(0, len(valid) - 1), st.integers(0, 255), st.integers(0, len(valid))
    ).map(lambda t: valid[: t[0]] + bytes([t[1]]) + valid[t[0] + 1 : t[2]])
    return st.one_of(
        st.binary(max_size=512), st.binary(max_size=64).map(lambda b: b"\x20" + b), mutated
    )
