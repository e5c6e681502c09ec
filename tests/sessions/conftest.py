"""Session-server helpers: a server on a free port (against the run's real ingress), tokens for
it, and polling until a condition holds (never a fixed sleep, never a timing assertion)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from sessions import SessionServer, issue_token


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 10.0) -> None:
    """Poll `condition` until it is true; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def session_server(ingress, settings, store) -> Iterator[SessionServer]:
    """A session server on 127.0.0.1 and a free port, subscribed on the test ingress's XPUB."""
    with SessionServer(settings, store, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def token_for(settings, store) -> Callable[[str], str]:
    """A valid session token for a user id."""
    return lambda user_id: issue_token(settings, store, user_id)
