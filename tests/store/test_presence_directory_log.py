"""Presence mirror, subscriber directory and delivery log on the real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from store import PRESENCE_TTL_S, Store, UserProfile


def uid(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ingress_id(store: Store) -> Iterator[str]:
    """An ingress of this test alone, forgotten afterwards."""
    name = uid("test-ingress")
    yield name
    store.client.delete(store.keys.presence(name))
    store.client.zrem(store.keys.ingresses(), name)


# -- presence ------------------------------------------------------------------------------------


def test_refresh_then_set_and_unset(store: Store, ingress_id: str) -> None:
    alice, bob, carol = uid("alice"), uid("bob"), uid("carol")
    store.presence.refresh(ingress_id, {alice, bob})
    assert (store.presence.is_present(alice), store.presence.is_present(bob)) == (True, True)
    assert store.presence.is_present(carol) is False

    store.presence.set_present(ingress_id, carol, True)
    store.presence.set_present(ingress_id, alice, False)

    assert store.presence.is_present(carol) is True
    assert store.presence.is_present(alice) is False
    assert store.presence.is_present(bob) is True


def test_refresh_rewrites_the_set_and_pushes_its_expiry(store: Store, ingress_id: str) -> None:
    alice, bob = uid("alice"), uid("bob")
    store.presence.refresh(ingress_id, {alice})
    store.presence.refresh(ingress_id, {bob})

    assert store.presence.is_present(alice) is False
    assert store.presence.is_present(bob) is True
    key = store.keys.presence(ingress_id)
    assert key.startswith(store.keys.prefix)
    assert 0 < store.client.ttl(key) <= PRESENCE_TTL_S


def test_reset_forgets_a_previous_run(store: Store, ingress_id: str) -> None:
    alice = uid("alice")
    store.presence.refresh(ingress_id, {alice})

    store.presence.reset(ingress_id)

    assert store.presence.is_present(alice) is False
    assert store.client.exists(store.keys.presence(ingress_id)) == 0
    # The ingress itself counts as alive again after reset.
    assert store.client.zscore(store.keys.ingresses(), ingress_id) is not None


def test_presence_on_any_live_ingress_counts(store: Store, ingress_id: str) -> None:
    other = uid("test-ingress")
    alice = uid("alice")
    try:
        store.presence.refresh(ingress_id, set())
        store.presence.refresh(other, {alice})
        assert store.presence.is_present(alice) is True
    finally:
        store.client.delete(store.keys.presence(other))
        store.client.zrem(store.keys.ingresses(), other)


def test_a_stale_ingress_does_not_count(store: Store, ingress_id: str) -> None:
    alice = uid("alice")
    store.presence.refresh(ingress_id, {alice})
    # The ingress stopped refreshing: its last refresh is older than the presence TTL.
    store.client.zadd(store.keys.ingresses(), {ingress_id: time.time() - PRESENCE_TTL_S - 5})

    assert store.client.sismember(store.keys.presence(ingress_id), alice)
    assert store.presence.is_present(alice) is False


# -- directory -----------------------------------------------------------------------------------


def test_unknown_user_has_no_profile(store: Store) -> None:
    assert store.directory.get(uid("nobody")) is None


def test_update_and_get_round_trip(store: Store) -> None:
    user = uid("user")
    made = store.directory.update(
        user,
        email="a@example.com",
        push_tokens=("tok-1", "tok-2"),
        discord_webhook="https://discord.example/api/webhooks/1/x",
        muted=("EMAIL:STRATEGY_LOG",),
    )

    got = store.directory.get(user)

    assert got == made
    assert got == UserProfile(
        user_id=user,
        email="a@example.com",
        push_tokens=("tok-1", "tok-2"),
        discord_webhook="https://discord.example/api/webhooks/1/x",
        muted=("EMAIL:STRATEGY_LOG",),
    )
    assert got.is_muted("EMAIL", "STRATEGY_LOG") is True
    assert got.is_muted("DISCORD", "STRATEGY_LOG") is False
    assert store.keys.user(user).startswith(store.keys.prefix)


def test_update_changes_only_the_named_fields(store: Store) -> None:
    user = uid("user")
    store.directory.update(user, email="a@example.com", push_tokens=("tok-1",))

    store.directory.update(
        user, push_tokens=(), slack_webhook="https://hooks.example/services/T/B/x"
    )

    got = store.directory.get(user)
    assert got is not None
    assert got.email == "a@example.com"
    assert got.push_tokens == ()
    assert got.slack_webhook == "https://hooks.example/services/T/B/x"
    assert got.muted == ()


# -- delivery log --------------------------------------------------------------------------------


def test_delivery_log_keeps_entries_oldest_first(store: Store) -> None:
    user, event = uid("user"), uid("event")
    entries = [
        {"channel": "WEB", "kind": "skipped", "skip": "not_active"},
        {"channel": "DISCORD", "kind": "transient", "detail": "discord HTTP 500"},
        {"channel": "DISCORD", "kind": "delivered"},
    ]
    for entry in entries:
        store.delivery_log.append(user, event, entry)

    got = store.delivery_log.read(user, event)

    assert [{k: v for k, v in e.items() if k != "time"} for e in got] == entries
    assert all(isinstance(e["time"], float) for e in got)
    assert got[0]["time"] <= got[1]["time"] <= got[2]["time"]
    key = store.keys.delivery_log(user, event)
    assert store.client.ttl(key) >= 48 * 3600 - 60


def test_delivery_log_in_a_pipeline_is_written_on_execute(store: Store) -> None:
    user, event = uid("user"), uid("event")
    pipe = store.client.pipeline(transaction=True)
    store.delivery_log.append(user, event, {"channel": "SLACK", "n": 1}, pipe=pipe)
    store.delivery_log.append(user, event, {"channel": "SLACK", "n": 2}, pipe=pipe)
    assert store.delivery_log.read(user, event) == []

    pipe.execute()

    assert [e["n"] for e in store.delivery_log.read(user, event)] == [1, 2]


def test_delivery_log_of_an_unknown_event_is_empty(store: Store) -> None:
    assert store.delivery_log.read(uid("user"), uid("event")) == []


def test_update_writes_only_the_named_fields(store) -> None:
    import uuid

    user = f"partial-{uuid.uuid4().hex[:8]}"
    store.directory.update(user, email="a@example.com", push_tokens=("t1",))
    stale = store.directory.get(user)
    store.directory.update(user, telegram_chat="42")  # e.g. the bot linking a chat meanwhile
    store.directory.update(user, push_tokens=tuple(t for t in stale.push_tokens if t != "t1"))
    profile = store.directory.get(user)
    assert (profile.email, profile.telegram_chat, profile.push_tokens) == (
        "a@example.com",
        "42",
        (),
    )
    assert store.directory.muted_many([user, "nobody-" + user]) == [(), ()]
