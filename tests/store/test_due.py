"""The due set: work is taken under a lease, and a published member is removed only if nothing
wrote it again meanwhile (a link that ran and parked itself before its scheduler removed it)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from store import Store, link_member
from tests.helpers import unique


@pytest.fixture
def store(redis_url: str) -> Iterator[Store]:
    """A store of its own prefix: no running scheduler of the suite takes this due work."""
    own = Store(redis_url, unique("duetest") + ":")
    yield own
    for key in (own.keys.due(), own.keys.due_entries()):
        own.client.delete(key)


def test_taken_work_is_leased_and_removed_once_published(store: Store) -> None:
    member = link_member(unique("u"), unique("e"), 0, 1)
    store.due.put(member, '{"v": 1}', at=time.time() - 1)
    [taken] = [t for t in store.due.take(time.time(), limit=1000) if t.member == member.encode()]
    assert taken.entry == b'{"v": 1}'
    assert not [t for t in store.due.take(time.time(), limit=1000) if t.member == taken.member]
    assert store.due.published(taken) is True
    assert store.due.published(taken) is False  # gone already


def test_work_written_again_after_it_was_taken_stays(store: Store) -> None:
    member = link_member(unique("u"), unique("e"), 0, 1)
    store.due.put(member, '{"try": 0}', at=time.time() - 1)
    [taken] = [t for t in store.due.take(time.time(), limit=1000) if t.member == member.encode()]
    # The published link runs at once and parks itself again, before the scheduler's removal.
    due_again = time.time() + 1
    store.due.put(member, '{"try": 0, "again": true}', at=due_again)
    assert store.due.published(taken) is False
    [again] = [
        t for t in store.due.take(due_again + 0.1, limit=1000) if t.member == member.encode()
    ]
    assert again.entry == b'{"try": 0, "again": true}'
    store.due.done(member)
