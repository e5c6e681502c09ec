"""Fuzz: decoding and validating any bytes raises nothing but a FrameError with its reason."""

from __future__ import annotations

from hypothesis import given, settings

from tests.fuzzing import classify, hostile_frame_strategy, hostile_frames


@settings(max_examples=1000, deadline=None)
@given(hostile_frame_strategy())
def test_any_bytes_are_answered_or_refused_never_a_crash(frame: bytes) -> None:
    classify(frame)  # raises only on a bug: FrameError is caught inside


def test_the_hostile_mix_owes_errors_to_usable_ids_only() -> None:
    frames = hostile_frames(seed=7, count=5000)
    owed = [f for f in frames if f.owed_error]
    assert len(owed) > 500, "the mix holds many invalid events with a usable id"
    assert all(len(f.owed_error) <= 128 for f in owed)
