"""Recovered sessions: a browser that reconnects with the last offset it saw gets what it
missed, in order, and is told when some of it had already left the history. Real ingress, real
session server, real Redis, real WebSockets."""

from __future__ import annotations

import json

import pytest
from websockets.exceptions import InvalidStatus

from client import make_event
from proto import AckStatus, ChannelType
from tests.helpers import browser, wait_until

#: The history a session server keeps by default (NOTIFY_SESSION_HISTORY_SIZE).
KEPT = 100


def _events(ws, count: int) -> list[dict]:
    messages = [json.loads(ws.recv(timeout=15)) for _ in range(count)]
    assert all(m["type"] == "event" for m in messages), messages
    return messages


def test_a_browser_that_reconnects_with_its_offset_gets_what_it_missed_in_order(
    session_server, client, store, token_for, new_id
):
    user = new_id("recover")
    token = token_for(user)
    with browser(session_server.ws_url, token) as first:
        assert first.recovery["since"] is None and first.recovery["complete"] is True
        wait_until(lambda: store.presence.is_present(user), "presence of the first page")
        logs = [
            make_event(user, "STRATEGY_LOG", "INFORMATIONAL", payload={"message": f"line {n}"})
            for n in range(KEPT + 5)
        ]
        for event in logs:
            client.send(event)
        seen = _events(first, len(logs))
    assert [m["event_id"] for m in seen] == [e.event_id for e in logs]
    offsets = [m["offset"] for m in seen]
    assert len(set(offsets)) == len(offsets) and all(offsets)

    # Away after line 60: the 44 after it come back, in order, and that is all of them.
    with browser(session_server.ws_url, token, since=offsets[60]) as again:
        recovered = again.recovered
        assert [m["event_id"] for m in recovered] == [e.event_id for e in logs[61:]]
        assert [m["offset"] for m in recovered] == offsets[61:]
        assert again.recovery == {
            "type": "recovery",
            "since": offsets[60],
            "recovered": len(logs) - 61,
            "complete": True,
            "offset": offsets[-1],
        }

    # Away since line 0: only the last 100 are kept, so the first lines are gone for good.
    with browser(session_server.ws_url, token, since=offsets[0]) as late:
        assert [m["event_id"] for m in late.recovered] == [e.event_id for e in logs[-KEPT:]]
        assert (late.recovery["recovered"], late.recovery["complete"]) == (KEPT, False)

    # Up to date: nothing to recover.
    with browser(session_server.ws_url, token, since=offsets[-1]) as current:
        assert current.recovery == {
            "type": "recovery",
            "since": offsets[-1],
            "recovered": 0,
            "complete": True,
            "offset": offsets[-1],
        }


@pytest.mark.parametrize("since", ["yesterday", "99999999999999999999-0", "1-2-3", "-1-0"])
def test_a_malformed_offset_is_refused_at_the_handshake(session_server, token_for, new_id, since):
    token = token_for(new_id("since"))
    with (
        pytest.raises(InvalidStatus) as refused,
        browser(session_server.ws_url, token, since=since),
    ):
        pass
    assert refused.value.response.status_code == 400
    assert refused.value.response.body == b"malformed since (an offset: 123-0)"


def test_history_keeps_the_newest_and_knows_what_it_cut(store, new_id):
    user = new_id("hist")
    offsets = [store.history.append(user, f"e{n}", b"frame", 3, 300) for n in range(5)]
    assert store.history.append(user, "e4", b"frame", 3, 300) == offsets[4], "kept once"
    recovery = store.history.since(user, offsets[0])
    assert [offset for offset, _ in recovery.events] == offsets[2:]
    assert recovery.complete is False, "offsets[1] was cut"
    assert store.history.since(user, offsets[1]).complete is True
    assert store.history.since(user, None).events == []
    assert store.history.since(user, None).offset == offsets[4]
    assert store.history.since(new_id("nobody"), "5-0").complete is False, "all of it expired"
    assert store.history.since(new_id("nobody"), "0-0").complete is True


@pytest.mark.broker
def test_a_critical_event_recovered_and_acked_after_a_reconnect_is_delivered_via_web(
    pipeline, session_server, token_for, client, acks, store, new_id
):
    """The page froze (its socket still open, nothing read): the WEB attempt's publish went
    into the void. It reconnects with its offset, recovers the event and acks it before the
    WEB step's wait ends: DELIVERED via WEB, and the next channel never sends."""
    user = new_id("frozen")
    token = token_for(user)
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/9/{user}")
    with browser(session_server.ws_url, token) as frozen:
        wait_until(lambda: store.presence.is_present(user), "presence of the page")
        offset = frozen.recovery["offset"]
        event = make_event(user, "ORDER_FILLED", "CRITICAL", [("WEB", False), ("DISCORD", False)])
        client.send(event)
        kept = store.keys.history_seen(user, event.event_id)
        wait_until(lambda: store.client.exists(kept), "the event in the user's history")

        with browser(session_server.ws_url, token, since=offset) as back:
            assert [m["event_id"] for m in back.recovered] == [event.event_id]
            assert back.recovery["complete"] is True
            back.send(json.dumps({"ack": event.event_id}))
            assert json.loads(back.recv(timeout=15))["type"] == "acked"
            received = acks.collect(client, event.event_id)
    assert [(a.status, a.delivered_via) for a in received] == [
        (AckStatus.QUEUED, ChannelType.ACTIVE_SESSION),
        (AckStatus.DELIVERED, ChannelType.WEB),
    ]
    assert pipeline.state.requests("discord") == [], "recovered and acked: no escalation"
