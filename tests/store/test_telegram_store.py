"""Telegram links on the real Redis: one-time link tokens, the chat -> users index, activity."""

from __future__ import annotations

import time
import uuid

import pytest

from store import LINK_TOKEN_TTL_S, Store, UserProfile
from store.telegram import LINK_TOKEN_PATTERN


def uid(kind: str = "u") -> str:
    return f"{kind}-{uuid.uuid4().hex[:10]}"


def chat() -> int:
    return int(uuid.uuid4().int % 10**9) + 10**9


# -- link tokens ---------------------------------------------------------------------------------


def test_token_is_url_safe_short_and_expires(store: Store) -> None:
    token = store.telegram.create_link_token(uid())

    assert LINK_TOKEN_PATTERN.fullmatch(token)
    assert len(token) <= 64
    ttl = store.client.ttl(store.keys.telegram_link(token))
    assert 0 < ttl <= LINK_TOKEN_TTL_S
    assert store.keys.telegram_link(token).startswith(store.keys.prefix)


def test_token_works_exactly_once(store: Store) -> None:
    user = uid()
    token = store.telegram.create_link_token(user)

    assert store.telegram.consume_link_token(token) == user
    assert store.telegram.consume_link_token(token) is None


def test_tokens_are_distinct_per_call(store: Store) -> None:
    user = uid()
    first, second = store.telegram.create_link_token(user), store.telegram.create_link_token(user)

    assert first != second
    assert store.telegram.consume_link_token(second) == user
    assert store.telegram.consume_link_token(first) == user


@pytest.mark.parametrize("token", ["", "never-issued", "a" * 65, "bad token", "x:y", "../../x"])
def test_unknown_or_malformed_token_is_none(store: Store, token: str) -> None:
    assert store.telegram.consume_link_token(token) is None


def test_expired_token_is_none(store: Store) -> None:
    token = store.telegram.create_link_token(uid(), ttl_s=1)
    store.client.pexpire(store.keys.telegram_link(token), 1)
    time.sleep(0.05)

    assert store.telegram.consume_link_token(token) is None


# -- chat <-> user --------------------------------------------------------------------------------


def test_link_stores_the_chat_on_the_profile_and_in_the_index(store: Store) -> None:
    user, chat_id = uid(), chat()
    store.directory.put(UserProfile(user_id=user, email="a@example.com"))

    profile = store.telegram.link(user, chat_id)

    assert profile.telegram_chat == str(chat_id)
    assert store.directory.get(user) == UserProfile(
        user_id=user, email="a@example.com", telegram_chat=str(chat_id)
    )
    assert store.telegram.users_for_chat(chat_id) == [user]
    assert store.telegram.users_for_chat(str(chat_id)) == [user]


def test_relinking_moves_the_user_to_the_new_chat(store: Store) -> None:
    user, old, new = uid(), chat(), chat()
    store.telegram.link(user, old)

    store.telegram.link(user, new)

    assert store.directory.get(user).telegram_chat == str(new)
    assert store.telegram.users_for_chat(old) == []
    assert store.telegram.users_for_chat(new) == [user]


def test_one_chat_may_serve_several_users(store: Store) -> None:
    alice, bob, chat_id = uid("alice"), uid("bob"), chat()
    store.telegram.link(alice, chat_id)
    store.telegram.link(bob, chat_id)

    assert store.telegram.users_for_chat(chat_id) == sorted([alice, bob])


def test_index_drops_a_user_whose_profile_changed_by_hand(store: Store) -> None:
    user, chat_id = uid(), chat()
    store.telegram.link(user, chat_id)
    store.directory.update(user, telegram_chat="12345")

    assert store.telegram.users_for_chat(chat_id) == []
    assert not store.client.sismember(store.keys.telegram_chat(str(chat_id)), user)


def test_unlink_forgets_chat_index_and_activity(store: Store) -> None:
    user, chat_id = uid(), chat()
    store.telegram.link(user, chat_id)
    store.telegram.mark_active(user, 60)

    store.telegram.unlink(user)

    assert store.directory.get(user).telegram_chat == ""
    assert store.telegram.users_for_chat(chat_id) == []
    assert store.telegram.is_active(user) is False


def test_unknown_chat_has_no_users(store: Store) -> None:
    assert store.telegram.users_for_chat(chat()) == []
    assert store.telegram.mark_chat_active(chat(), 60) == []


# -- activity -------------------------------------------------------------------------------------


def test_mark_active_sets_a_ttl_of_the_window(store: Store) -> None:
    user = uid()
    assert store.telegram.is_active(user) is False

    store.telegram.mark_active(user, 900)

    assert store.telegram.is_active(user) is True
    assert store.telegram.is_active(user, within_s=900) is True
    ttl = store.client.ttl(store.keys.telegram_active(user))
    assert 0 < ttl <= 900
    assert store.keys.telegram_active(user) == f"{store.keys.prefix}tgactive:{{{user}}}"


def test_activity_expires_with_its_ttl(store: Store) -> None:
    user = uid()
    store.telegram.mark_active(user, 900)
    store.client.pexpire(store.keys.telegram_active(user), 1)
    time.sleep(0.05)

    assert store.telegram.is_active(user) is False


def test_activity_older_than_the_window_asked_for_does_not_count(store: Store) -> None:
    user = uid()
    store.client.set(store.keys.telegram_active(user), repr(time.time() - 120), ex=900)

    assert store.telegram.is_active(user, within_s=60) is False
    assert store.telegram.is_active(user, within_s=300) is True


def test_message_from_a_linked_chat_marks_its_users(store: Store) -> None:
    alice, bob, chat_id = uid("alice"), uid("bob"), chat()
    store.telegram.link(alice, chat_id)
    store.telegram.link(bob, chat_id)

    marked = store.telegram.mark_chat_active(chat_id, 60)

    assert marked == sorted([alice, bob])
    assert store.telegram.is_active(alice) and store.telegram.is_active(bob)
