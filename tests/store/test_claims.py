"""The event claim's Lua state machine on the real Redis: dedup, lease, rounds, final states."""

from __future__ import annotations

import time
import uuid

import pytest

from store import CLAIM_TTL_S, OUTBOX_GRACE_S, ClaimState, Finalized, Seen, Store, round_member
from store.claims import LEASE_MS

INGRESS = "test-ingress-a"
#: A round-0 outbox entry that no scheduler can read (so none publishes it).
ENTRY = "{}"


def ids() -> tuple[str, str]:
    """A user and event of this test alone."""
    return f"u-{uuid.uuid4().hex[:10]}", f"e-{uuid.uuid4().hex[:10]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def claim_one(
    store: Store,
    user: str,
    event: str,
    routing: bytes = b"r1",
    at: int | None = None,
    ingress: str = INGRESS,
):
    (claim,) = store.claims.claim_many(
        [(user, event, routing, True, ENTRY)], ingress, now_ms() if at is None else at
    )
    return claim


def queued(store: Store) -> tuple[str, str]:
    """A fresh event claimed and moved to QUEUED (round 0)."""
    user, event = ids()
    claim_one(store, user, event)
    assert store.claims.mark_queued_many([(user, event, "{}")], time.time()) == [True]
    return user, event


def test_first_claim_is_new_and_a_resend_is_known(store: Store) -> None:
    user, event = ids()
    received = now_ms()
    first = claim_one(store, user, event, at=received)
    second = claim_one(store, user, event, at=received + 10)

    assert (first.seen, first.state, first.received_ms) == (Seen.NEW, ClaimState.PENDING, received)
    # Within the lease a resend is only replayed; it keeps the first receipt time.
    assert (second.seen, second.state, second.received_ms) == (
        Seen.KNOWN,
        ClaimState.PENDING,
        received,
    )
    stored = store.claims.read(user, event)
    assert stored["state"] == "PENDING"
    assert stored["round"] == "0"
    assert stored["received_ms"] == str(received)


def test_mark_queued_many_moves_only_pending_claims(store: Store) -> None:
    user, event = ids()
    _, unknown = ids()
    claim_one(store, user, event)

    assert store.claims.mark_queued_many(
        [(user, event, "{}"), (user, unknown, "{}")], time.time()
    ) == [True, False]
    assert store.claims.mark_queued_many([(user, event, "{}")], time.time()) == [
        True
    ]  # already QUEUED: still queued
    assert store.claims.read(user, event)["state"] == "QUEUED"
    assert store.claims.read(user, unknown) == {}  # never created by mark_queued
    assert claim_one(store, user, event).state == ClaimState.QUEUED


def test_final_state_never_goes_backwards(store: Store) -> None:
    user, event = queued(store)

    assert store.claims.finalize(
        user, event, ClaimState.DELIVERED, 0, delivered_via="WEB"
    ) == Finalized(ClaimState.DELIVERED, "WEB", "", ingress_id=INGRESS, routing_id=b"r1", now=True)
    # A later finish (acks late, a second run) replays what is stored (not written now).
    assert store.claims.finalize(
        user, event, ClaimState.ACK_ERROR, 0, error="too late"
    ) == Finalized(ClaimState.DELIVERED, "WEB", "", ingress_id=INGRESS, routing_id=b"r1")
    # A worker finished it before the ingress marked it: it was queued all the same (the QUEUED
    # ack still goes out, before the final one), and the final state stays.
    assert store.claims.mark_queued_many([(user, event, "{}")], time.time()) == [True]
    assert store.claims.advance_round(user, event, 0, f"{event}-r0", 0.0) is False
    store.claims.release(user, event, True)

    stored = store.claims.read(user, event)
    assert (stored["state"], stored["delivered_via"], stored["error"]) == ("DELIVERED", "WEB", "")
    resend = claim_one(store, user, event)
    assert (resend.seen, resend.state, resend.delivered_via, resend.error) == (
        Seen.KNOWN,
        ClaimState.DELIVERED,
        "WEB",
        "",
    )


def test_ack_error_is_final_too(store: Store) -> None:
    user, event = queued(store)
    store.claims.finalize(user, event, ClaimState.ACK_ERROR, 0, error="DISCORD: permanent")

    assert store.claims.finalize(
        user, event, ClaimState.DELIVERED, 0, delivered_via="SLACK"
    ) == Finalized(
        ClaimState.ACK_ERROR, "", "DISCORD: permanent", ingress_id=INGRESS, routing_id=b"r1"
    )
    resend = claim_one(store, user, event)
    assert (resend.seen, resend.state, resend.error) == (
        Seen.KNOWN,
        ClaimState.ACK_ERROR,
        "DISCORD: permanent",
    )


@pytest.mark.parametrize("wrong_round", [1, 5])
def test_finalize_with_another_round_is_stale_and_changes_nothing(
    store: Store, wrong_round: int
) -> None:
    user, event = queued(store)
    before = store.claims.read(user, event)

    result = store.claims.finalize(
        user, event, ClaimState.DELIVERED, wrong_round, delivered_via="WEB"
    )

    assert result == Finalized(None, why_not="stale")
    assert store.claims.read(user, event) == before


def test_finalize_of_an_unknown_claim_is_gone_and_creates_nothing(store: Store) -> None:
    user, event = ids()
    assert store.claims.finalize(user, event, ClaimState.DELIVERED, 0, "WEB") == Finalized(
        None, why_not="gone"
    )
    assert store.claims.read(user, event) == {}


def test_finalize_in_a_pipeline_runs_with_the_pipeline(store: Store) -> None:
    user, event = queued(store)
    pipe = store.client.pipeline(transaction=True)
    assert store.claims.finalize(user, event, ClaimState.DELIVERED, 0, "SLACK", pipe=pipe) is None
    assert store.claims.read(user, event)["state"] == "QUEUED"  # not yet sent
    pipe.execute()
    assert store.claims.read(user, event)["state"] == "DELIVERED"


def test_advance_round_happens_once_per_round(store: Store) -> None:
    user, event = queued(store)

    assert store.claims.advance_round(user, event, 0, f"{event}-r0", 0.0) is True
    assert (
        store.claims.advance_round(user, event, 0, f"{event}-r0", 0.0) is False
    )  # the second finish of round 0
    assert store.claims.read(user, event)["round"] == "1"
    # Round 0's finish is stale now; round 1's is not.
    assert store.claims.finalize(user, event, ClaimState.ACK_ERROR, 0, error="x") == Finalized(
        None, why_not="stale"
    )
    assert store.claims.advance_round(user, event, 1, f"{event}-r1", 0.0) is True
    store.client.zrem(store.keys.due(), f"{event}-r0", f"{event}-r1")
    assert store.claims.finalize(user, event, ClaimState.DELIVERED, 2, "WEB") == Finalized(
        ClaimState.DELIVERED, "WEB", "", ingress_id=INGRESS, routing_id=b"r1", now=True
    )


def test_advance_round_needs_a_live_claim_and_writes_the_outbox(store: Store) -> None:
    user, event = ids()
    assert store.claims.advance_round(user, event, 0, f"{event}-r0", 0.0) is False  # unknown
    claim_one(store, user, event)
    # Still PENDING: a round can end before the ingress marks the claim QUEUED.
    assert store.claims.advance_round(user, event, 0, f"{event}-r0", 5.0) is True
    stored = store.claims.read(user, event)
    assert (stored["round"], stored["state"]) == ("1", "QUEUED")
    member = round_member(user, event, 1)
    assert store.client.zscore(store.keys.due(), member) == 5.0
    assert store.client.hget(store.keys.due_entries(), member) == f"{event}-r0".encode()
    store.due.done(member)
    store.due.done(round_member(user, event, 0))


def test_a_new_claim_puts_round_0_in_the_outbox_until_it_is_queued(store: Store) -> None:
    user, event = ids()
    at = now_ms()
    claim_one(store, user, event, at=at)
    member = round_member(user, event, 0)
    assert store.client.zscore(store.keys.due(), member) == pytest.approx(
        at / 1000 + OUTBOX_GRACE_S
    )
    assert store.client.hget(store.keys.due_entries(), member) == ENTRY.encode()
    assert store.claims.open_counts()["critical"][0] >= 1

    assert store.claims.mark_queued_many([(user, event, "{}")], time.time()) == [True]
    assert store.client.zscore(store.keys.due(), member) is None
    assert store.client.hget(store.keys.due_entries(), member) is None


def test_a_released_claim_leaves_no_outbox_entry_and_is_not_open(store: Store) -> None:
    user, event = ids()
    claim_one(store, user, event)
    store.claims.release(user, event, True)
    assert store.client.zscore(store.keys.due(), round_member(user, event, 0)) is None
    assert (user, event) not in store.claims.past(True, time.time() + 1, limit=10_000)


def test_release_deletes_only_a_pending_claim(store: Store) -> None:
    pending_user, pending_event = ids()
    claim_one(store, pending_user, pending_event)
    queued_user, queued_event = queued(store)

    store.claims.release(pending_user, pending_event, True)
    store.claims.release(queued_user, queued_event, True)

    assert store.claims.read(pending_user, pending_event) == {}
    assert store.claims.read(queued_user, queued_event)["state"] == "QUEUED"
    # Released: the container's resend is routed anew.
    assert claim_one(store, pending_user, pending_event).seen == Seen.NEW


def test_a_pending_claim_with_its_outbox_entry_is_never_reclaimed(store: Store) -> None:
    """The scheduler publishes the entry: a resend must not start a second chain."""
    user, event = ids()
    claim_one(store, user, event, at=now_ms() - LEASE_MS - 1_000)

    assert claim_one(store, user, event).seen == Seen.KNOWN
    store.due.done(round_member(user, event, 0))


def test_a_first_release_pending_claim_past_its_lease_is_reclaimed_once(store: Store) -> None:
    user, event = ids()
    old = now_ms() - LEASE_MS - 1_000
    claim_one(store, user, event, at=old)
    store.due.done(round_member(user, event, 0))  # the first release kept no outbox

    reclaimed = claim_one(store, user, event)
    again = claim_one(store, user, event)

    assert (reclaimed.seen, reclaimed.state) == (Seen.RECLAIMED, ClaimState.PENDING)
    assert reclaimed.received_ms == old  # TTL and deadline still count from the first receipt
    assert again.seen == Seen.KNOWN  # the reclaim took a fresh lease
    assert int(store.claims.read(user, event)["lease_until"]) > now_ms()


def test_an_old_queued_claim_is_never_reclaimed(store: Store) -> None:
    user, event = ids()
    claim_one(store, user, event, at=now_ms() - LEASE_MS - 1_000)
    store.claims.mark_queued_many([(user, event, "{}")], time.time())

    assert claim_one(store, user, event).seen == Seen.KNOWN


def test_a_resend_updates_where_acks_go(store: Store) -> None:
    user, event = queued(store)

    resend = claim_one(store, user, event, routing=b"\x00container-2", ingress="test-ingress-b")

    assert resend.seen == Seen.KNOWN
    stored = store.claims.read(user, event)
    assert stored["routing_id"] == b"\x00container-2".hex()
    assert stored["ingress_id"] == "test-ingress-b"
    assert stored["state"] == "QUEUED"


def test_claim_keys_carry_the_prefix_and_live_at_least_48_hours(
    store: Store, key_prefix: str
) -> None:
    user, event = ids()
    claim_one(store, user, event)
    key = store.keys.claim(user, event)

    assert key.startswith(key_prefix)
    assert user in key and event in key
    assert store.client.exists(key) == 1
    assert CLAIM_TTL_S >= 48 * 3600
    assert store.client.ttl(key) >= 48 * 3600 - 60
    assert store.client.ttl(key) <= CLAIM_TTL_S


def test_claims_of_two_users_are_apart(store: Store) -> None:
    user_a, event = ids()
    user_b = f"u-{uuid.uuid4().hex[:10]}"
    claim_one(store, user_a, event)
    store.claims.mark_queued_many([(user_a, event, "{}")], time.time())

    # The same event id from another user's container neither reads nor blocks user A's claim.
    other = claim_one(store, user_b, event)
    assert (other.seen, other.state) == (Seen.NEW, ClaimState.PENDING)
    assert store.claims.read(user_a, event)["state"] == "QUEUED"


def test_claim_many_answers_a_batch_of_100_in_order(store: Store) -> None:
    user = f"u-{uuid.uuid4().hex[:10]}"
    events = [f"e-{i:03d}-{uuid.uuid4().hex[:6]}" for i in range(100)]
    store.claims.claim_many([(user, e, b"r", True, ENTRY) for e in events[::2]], INGRESS, now_ms())

    results = store.claims.claim_many(
        [(user, e, b"r", True, ENTRY) for e in events], INGRESS, now_ms()
    )

    assert len(results) == 100
    assert [r.seen for r in results] == [Seen.KNOWN if i % 2 == 0 else Seen.NEW for i in range(100)]
    assert (
        store.claims.mark_queued_many([(user, e, "{}") for e in events], time.time())
        == [True] * 100
    )


def test_ids_containing_colons_never_share_a_claim(store: Store) -> None:
    tag = uuid.uuid4().hex[:8]
    mallory = claim_one(store, f"x-{tag}", "y:z")
    store.claims.finalize(f"x-{tag}", "y:z", ClaimState.ACK_ERROR, 0, error="mallory's")
    victim = claim_one(store, f"x-{tag}:y", "z")

    assert mallory.seen == Seen.NEW
    assert (victim.seen, victim.state, victim.error) == (Seen.NEW, ClaimState.PENDING, "")
