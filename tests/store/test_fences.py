"""The fences on the real Redis: an attempt of a final event or an old round stops; a provider
is called under one send lease per event; a wait is parked only while the event is open."""

from __future__ import annotations

import json
import time
import uuid

from store import ClaimState, Fence, Store, link_member

INGRESS = "test-ingress-f"


def queued(store: Store) -> tuple[str, str]:
    user, event = f"u-{uuid.uuid4().hex[:10]}", f"e-{uuid.uuid4().hex[:10]}"
    store.claims.claim_many([(user, event, b"r", True, "{}")], INGRESS, int(time.time() * 1000))
    store.claims.mark_queued_many([(user, event, "{}")], time.time())
    return user, event


def test_touch_is_ok_only_for_the_open_current_round(store: Store) -> None:
    user, event = queued(store)
    assert store.claims.touch(user, event, 0, time.time()) == Fence.OK
    assert store.claims.touch(user, event, 1, time.time()) == Fence.STALE
    store.claims.advance_round(user, event, 0, "{}", time.time() + 60)
    assert store.claims.touch(user, event, 0, time.time()) == Fence.STALE
    assert store.claims.touch(user, event, 1, time.time()) == Fence.OK
    store.claims.finalize(user, event, ClaimState.DELIVERED, 1, "SLACK")
    assert store.claims.touch(user, event, 1, time.time()) == Fence.FINAL
    assert store.claims.touch("nobody", event, 0, time.time()) == Fence.GONE


def test_one_send_lease_per_event_and_a_receipt_ends_all_sending(store: Store) -> None:
    user, event = queued(store)
    first, _ = store.claims.begin_send(user, event, 0, "DISCORD", "a", 5)
    second, left = store.claims.begin_send(user, event, 0, "DISCORD", "b", 5)
    other, _ = store.claims.begin_send(user, event, 0, "SLACK", "c", 5)
    assert first == Fence.OK
    assert second == Fence.BUSY and 0 < int(left) <= 5000
    assert other == Fence.BUSY, "one provider call at a time per event, whatever the channel"

    store.claims.end_send(user, event, "DISCORD", "b", None)  # not the holder: nothing changes
    assert store.claims.begin_send(user, event, 0, "DISCORD", "d", 5)[0] == Fence.BUSY
    store.claims.end_send(user, event, "DISCORD", "a", "msg-42")

    assert store.claims.begin_send(user, event, 0, "DISCORD", "e", 5) == (Fence.ACCEPTED, "msg-42")
    assert store.claims.begin_send(user, event, 0, "SLACK", "f", 5) == (Fence.ELSEWHERE, "DISCORD")
    assert store.claims.begin_send(user, event, 1, "SLACK", "g", 5)[0] == Fence.STALE


def test_a_failed_send_frees_the_lease_for_the_next_channel(store: Store) -> None:
    user, event = queued(store)
    assert store.claims.begin_send(user, event, 0, "DISCORD", "a", 5)[0] == Fence.OK
    store.claims.end_send(user, event, "DISCORD", "a", None)
    assert store.claims.begin_send(user, event, 0, "SLACK", "b", 5)[0] == Fence.OK


def test_a_lease_of_a_dead_attempt_runs_out(store: Store) -> None:
    user, event = queued(store)
    assert store.claims.begin_send(user, event, 0, "DISCORD", "dead", 0.2)[0] == Fence.OK
    deadline = time.monotonic() + 5
    while store.claims.begin_send(user, event, 0, "DISCORD", "next", 5)[0] == Fence.BUSY:
        assert time.monotonic() < deadline, "the lease never ran out"
        time.sleep(0.05)


def test_park_writes_one_wait_per_link_and_only_while_open(store: Store) -> None:
    user, event = queued(store)
    due = time.time() + 30
    assert store.claims.park(user, event, 0, 2, json.dumps({"try": 1}), due) == Fence.OK
    assert store.claims.park(user, event, 0, 2, json.dumps({"try": 2}), due + 1) == Fence.OK
    member = link_member(user, event, 0, 2)
    assert store.client.hget(store.keys.due_entries(), member) == b'{"try": 2}'
    assert store.client.zscore(store.keys.due(), member) == due + 1
    # A parked chain is alive until it is due: the stall sweep leaves it alone.
    assert (user, event) not in store.claims.stalled(time.time() + 5, limit=10_000)
    store.due.done(member)

    store.claims.finalize(user, event, ClaimState.ACK_ERROR, 0, error="x")
    assert store.claims.park(user, event, 0, 3, "{}", due) == Fence.FINAL
    assert store.client.zscore(store.keys.due(), link_member(user, event, 0, 3)) is None


def test_expire_finalizes_only_an_open_event_and_says_where_to_ack(store: Store) -> None:
    user, event = queued(store)
    assert store.claims.expire(user, event, "deadline passed") == (INGRESS, b"r")
    stored = store.claims.read(user, event)
    assert (stored["state"], stored["error"]) == ("ACK_ERROR", "deadline passed")
    assert store.claims.expire(user, event, "again") is None
    assert store.claims.read(user, event)["error"] == "deadline passed"
