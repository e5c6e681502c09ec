"""The resend schedule: backoff that doubles to a cap, due and expired in time order, and heaps
that do not grow with every event ever sent."""

from __future__ import annotations

from client.tracker import InFlight, Tracker


def _item(event_id: str, give_up_at: float = 1000.0) -> InFlight:
    return InFlight(event_id, "u1", 2, b"\x20", give_up_at, handle=None)


def test_resends_back_off_doubling_up_to_the_cap() -> None:
    tracker = Tracker(resend_first_s=2.0, resend_max_s=5.0)
    item = _item("e1")
    tracker.add(item, now=0.0)
    assert tracker.due(0.0) == [item]
    schedule, now = [], 0.0
    for _ in range(4):
        tracker.sent(item, now)
        assert tracker.due(item.due_at - 0.01) == []
        now = item.due_at
        schedule.append(now)
        assert tracker.due(now) == [item]
    assert schedule == [2.0, 6.0, 11.0, 16.0]  # waits 2, 4, 5, 5


def test_a_final_event_is_never_due_and_an_open_one_expires_once() -> None:
    tracker = Tracker()
    done, open_ = _item("done", 50.0), _item("open", 60.0)
    tracker.add(done, 0.0)
    tracker.add(open_, 0.0)
    tracker.remove("done")
    assert tracker.due(1.0) == [open_]
    assert tracker.expired(55.0) == []
    assert tracker.expired(61.0) == [open_]
    assert tracker.expired(100.0) == []
    assert len(tracker) == 0


def test_the_heaps_are_rebuilt_when_most_entries_are_stale() -> None:
    tracker = Tracker()
    for n in range(5000):
        tracker.add(_item(f"e{n}", give_up_at=86400.0), 0.0)
        tracker.remove(f"e{n}")
    assert len(tracker._deadlines) <= 1024 + 2
    tracker.add(kept := _item("kept"), 0.0)
    assert tracker.due(0.0) == [kept]
