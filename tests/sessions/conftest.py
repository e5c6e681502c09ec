"""Session-server fixtures: a server on a free port (against the run's real ingress) and tokens
for it. Polling until a condition holds is `tests.helpers.wait_until`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sessions import SessionServer, issue_token


@pytest.fixture(scope="module")
def session_server(ingress, settings, store) -> Iterator[SessionServer]:
    """A session server on 127.0.0.1 and a free port, subscribed on the test ingress's XPUB."""
    with SessionServer(settings, store, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture
def token_for(settings, store) -> Callable[[str], str]:
    """A valid session token for a user id."""
    return lambda user_id: issue_token(settings, store, user_id)
