"""Fuzz the session server's input: any browser message is answered with an error message or
an ack, never a crash; the server keeps serving."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sessions import ClientMessageError, parse_ack
from tests.helpers import browser

MESSAGES = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.dictionaries(
        st.text(max_size=10), st.recursive(st.none() | st.integers() | st.text(), st.lists)
    ).map(json.dumps),
    st.builds(lambda v: json.dumps({"ack": v}), st.text(max_size=200) | st.integers() | st.none()),
)


@settings(max_examples=500, deadline=None)
@given(MESSAGES)
def test_parse_ack_refuses_with_a_reason_or_returns_an_id(message) -> None:
    try:
        ack = parse_ack(message)
    except ClientMessageError as exc:
        assert str(exc)
    else:
        assert isinstance(ack.event_id, str) and ack.event_id and isinstance(ack.human, bool)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_a_socket_fed_garbage_gets_error_messages_and_the_server_keeps_serving(
    session_server, token_for, new_id
):
    examples = [MESSAGES.example() for _ in range(300)]
    token = token_for(new_id("fuzzws"))
    with browser(session_server.ws_url, token, max_size=None) as ws:
        for message in examples:
            if isinstance(message, bytes | str) and len(message) > 16 * 1024:
                continue
            ws.send(message)
            reply = json.loads(ws.recv(timeout=10))
            assert reply["type"] == "error" and reply["error"]
    with browser(session_server.ws_url, token) as again:
        again.send('{"ack": "never-sent"}')
        assert json.loads(again.recv(timeout=10))["error"] == "unknown event"
