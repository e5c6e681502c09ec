"""Session tokens hold on open sockets too: a socket closes when its token expires or its user's
tokens are revoked; a revoked token is refused at the handshake; protected mode keeps the
session server on loopback without a subscriber key."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from sessions import load_secret, make_token
from settings import Settings
from tests.helpers import ROOT, free_port


def _closed_with(ws, timeout_s: float = 10.0) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=timeout_s)
    return closed.value.rcvd.code, closed.value.rcvd.reason


def test_an_open_socket_closes_when_its_token_expires(session_server, settings, store, new_id):
    token = make_token(load_secret(settings, store), new_id("brief"), ttl_s=2)
    with connect(f"{session_server.ws_url}?token={token}", open_timeout=10) as ws:
        assert _closed_with(ws) == (1008, "token expired")


def test_revoking_a_user_closes_their_sockets_and_refuses_their_tokens(
    session_server, token_for, store, new_id
):
    user = new_id("revoked")
    token = token_for(user)
    with connect(f"{session_server.ws_url}?token={token}", open_timeout=10) as ws:
        store.revoke_sessions(user)
        assert _closed_with(ws) == (1008, "token revoked")
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{session_server.ws_url}?token={token}", open_timeout=10)
    assert refused.value.response.status_code == 401
    assert refused.value.response.body == b"revoked token"


def test_a_session_secret_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Settings(session_secret="short")


def test_the_session_server_refuses_other_hosts_without_a_key(stack_env) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "sessions", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=ROOT,
        env={**os.environ, **stack_env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "refusing to listen on 0.0.0.0 without authentication" in line
