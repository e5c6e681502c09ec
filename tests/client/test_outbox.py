"""The durable outbox: what is added survives a reopen, what is removed is gone, and one client
at a time holds a file."""

from __future__ import annotations

import pytest

from client import OutboxBusy
from client.outbox import Outbox, Stored


def test_rows_survive_a_reopen_and_leave_when_removed(tmp_path) -> None:
    path = tmp_path / "deep" / "outbox.db"
    first = Outbox(path)
    first.add(Stored("u1", "e1", 2, b"\x20one", 200.0))
    first.add(Stored("u1", "e2", 2, b"\x20two", 100.0))
    first.add(Stored("u1", "e1", 2, b"\x20again", 300.0))  # kept once
    first.remove("u1", "e2")
    first.close()
    again = Outbox(path)
    assert again.load() == [Stored("u1", "e1", 2, b"\x20one", 200.0)]
    again.close()


def test_a_second_client_on_the_same_file_is_refused(tmp_path) -> None:
    holder = Outbox(tmp_path / "outbox.db")
    with pytest.raises(OutboxBusy, match="in use by another client"):
        Outbox(tmp_path / "outbox.db")
    holder.close()
    Outbox(tmp_path / "outbox.db").close()  # free again
