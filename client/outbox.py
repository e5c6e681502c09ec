"""The durable outbox: events not yet final, kept in a small SQLite file, so a container that
restarts resends what it had not heard back about, with the same event ids (the ingress replays
the status of one it knows, and delivers one it does not: once either way).

A row is written before `send` returns and deleted when the event is final or given up.
SQLite runs in WAL mode with `synchronous=NORMAL`: a killed process loses nothing; a power cut
may lose the last commits. One client per file: a second one (in any process) is refused with
OutboxBusy rather than both resending the same events.
"""

from __future__ import annotations

import fcntl
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .errors import OutboxBusy

__all__ = ["Outbox", "Stored"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    user_id    TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    priority   INTEGER NOT NULL,
    frame      BLOB    NOT NULL,
    give_up_at REAL    NOT NULL,  -- Unix seconds: when the container stops resending
    PRIMARY KEY (user_id, event_id)
)
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """One event as the outbox keeps it."""

    user_id: str
    event_id: str
    priority: int
    frame: bytes
    give_up_at: float


class Outbox:
    """Unacknowledged events in SQLite at `path`; safe to use from several threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(f"{self.path}.lock", "a")  # noqa: SIM115 (held until close)
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock_file.close()
            raise OutboxBusy(f"outbox {self.path} is in use by another client") from None
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def add(self, item: Stored) -> None:
        """Keep an event (a resend of one already kept changes nothing)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?, ?)",
                (item.user_id, item.event_id, item.priority, item.frame, item.give_up_at),
            )

    def remove(self, user_id: str, event_id: str) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM outbox WHERE user_id = ? AND event_id = ?", (user_id, event_id)
            )

    def load(self) -> list[Stored]:
        """Everything kept, oldest deadline first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM outbox ORDER BY give_up_at").fetchall()
        return [Stored(*row) for row in rows]

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
        self._lock_file.close()  # releases the flock
