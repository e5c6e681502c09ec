"""The session server end to end: a real ingress process, real Redis, real WebSockets."""

from __future__ import annotations

import json
import signal
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from client import Dealer, make_event
from sessions import SessionServer, load_secret, make_token
from tests.helpers import browser as open_browser
from tests.helpers import free_port, spawn, start_ingress, stop_process, wait_for_line, wait_until


@contextmanager
def browser(server: SessionServer, token: str) -> Iterator[ClientConnection]:
    with open_browser(server.ws_url, token) as ws:
        yield ws


def receive(ws: ClientConnection, timeout_s: float = 10.0) -> dict:
    return json.loads(ws.recv(timeout=timeout_s))


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_page_and_plain_http_routes(session_server):
    status, headers, body = http_get(session_server.url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert headers["Referrer-Policy"] == "no-referrer"
    assert b"<title>Notifications</title>" in body
    assert b"http://" not in body and b"https://" not in body, "no external assets"
    assert http_get(session_server.url + "/healthz")[:1] == (200,)
    assert http_get(session_server.url + "/nothing-here")[0] == 404


def test_whoami_says_who_or_why_not(session_server, token_for, new_id):
    user = new_id("who")
    status, _, body = http_get(f"{session_server.url}/whoami?token={token_for(user)}")
    assert (status, json.loads(body)) == (200, {"user_id": user})
    status, _, body = http_get(f"{session_server.url}/whoami")
    assert (status, body) == (401, b"missing token")


def test_session_gets_its_event_and_acks_it(
    session_server, client, store, token_for, new_id, settings
):
    user = new_id("web")
    with browser(session_server, token_for(user)) as ws:
        wait_until(lambda: store.presence.is_present(user), "presence from the live session")
        payload = b'{"symbol": "BTC/USDT", "condition": "BTC > 50000", "triggered_price": 50000.10}'
        event = make_event(user, "ALERT_TRIGGERED", "INFORMATIONAL", payload=payload)
        client.send(event)

        message = receive(ws)
        assert message["type"] == "event"
        assert message["event_id"] == event.event_id
        assert message["user_id"] == user
        assert message["event_type"] == "ALERT_TRIGGERED"
        assert message["priority"] == "INFORMATIONAL"
        assert message["timestamp"] == event.timestamp
        assert "BTC/USDT" in message["title"] and "BTC > 50000" in message["title"]
        assert "50000.10" in message["title"], "decimals keep their spelling"
        assert isinstance(message["body"], str)
        assert message["payload"] == {
            "symbol": "BTC/USDT",
            "condition": "BTC > 50000",
            "triggered_price": "50000.10",
        }

        key = store.keys.web_ack(user, event.event_id)
        assert store.client.get(key) is None
        ws.send(json.dumps({"ack": event.event_id}))
        assert receive(ws) == {"type": "acked", "event_id": event.event_id, "human": False}
        assert float(store.client.get(key)) > 0
        assert store.client.ttl(key) > settings.web_ack_timeout_s


def test_a_browser_that_reconnects_can_still_ack(session_server, client, store, token_for, new_id):
    user = new_id("reconnect")
    with browser(session_server, token_for(user)) as ws:
        wait_until(lambda: store.presence.is_present(user), "presence from the live session")
        event = make_event(user, "ORDER_FILLED", "INFORMATIONAL")
        client.send(event)
        assert receive(ws)["event_id"] == event.event_id
    wait_until(lambda: not store.presence.is_present(user), "presence gone with the socket")
    with browser(session_server, token_for(user)) as ws:  # e.g. a page reload
        ws.send(json.dumps({"ack": event.event_id}))
        assert receive(ws) == {"type": "acked", "event_id": event.event_id, "human": False}
    assert store.client.exists(store.keys.web_ack(user, event.event_id))


def test_acks_for_events_not_sent_to_the_user_are_ignored(
    session_server, client, store, token_for, new_id
):
    owner, other = new_id("owner"), new_id("other")
    with (
        browser(session_server, token_for(owner)) as owner_ws,
        browser(session_server, token_for(other)) as other_ws,
    ):
        wait_until(lambda: store.presence.is_present(owner), "owner presence")
        wait_until(lambda: store.presence.is_present(other), "other presence")
        event = make_event(owner, "STRATEGY_LOG", "INFORMATIONAL", payload={"message": "tick"})
        client.send(event)
        assert receive(owner_ws)["event_id"] == event.event_id

        # Another user acking the owner's event, and an ack for an id nobody was sent.
        other_ws.send(json.dumps({"ack": event.event_id}))
        assert receive(other_ws) == {
            "type": "error",
            "error": "unknown event",
            "event_id": event.event_id,
        }
        owner_ws.send(json.dumps({"ack": "never-sent"}))
        assert receive(owner_ws)["error"] == "unknown event"
        assert store.client.get(store.keys.web_ack(other, event.event_id)) is None
        assert store.client.get(store.keys.web_ack(owner, "never-sent")) is None
        assert store.client.get(store.keys.web_ack(owner, event.event_id)) is None

        # Malformed messages are answered and ignored; the session keeps working.
        for bad in (
            "not json",
            b"\x00binary",
            "[1, 2]",
            '{"hello": 1}',
            '{"ack": 5}',
            '{"ack": "a b"}',
        ):
            owner_ws.send(bad)
            assert receive(owner_ws)["type"] == "error"
        owner_ws.send(json.dumps({"ack": event.event_id}))
        assert receive(owner_ws) == {"type": "acked", "event_id": event.event_id, "human": False}
        assert store.client.get(store.keys.web_ack(owner, event.event_id)) is not None


def _refused(server: SessionServer, query: str) -> tuple[int, bytes]:
    with (
        pytest.raises(InvalidStatus) as caught,
        connect(f"{server.ws_url}{query}", open_timeout=10),
    ):
        pass
    return caught.value.response.status_code, caught.value.response.body


def test_bad_tokens_are_refused_at_the_handshake(session_server, settings, store, token_for):
    secret = load_secret(settings, store)
    good = token_for("refused-user")
    expired = make_token(secret, "refused-user", ttl_s=60, now=1_000_000)
    forged = make_token(b"not-the-secret", "refused-user")
    assert _refused(session_server, "") == (401, b"missing token")
    assert _refused(session_server, "?token=") == (401, b"missing token")
    assert _refused(session_server, "?token=garbage") == (401, b"malformed token")
    assert _refused(session_server, f"?token={forged}") == (401, b"bad signature")
    assert _refused(session_server, f"?token={good[:-3]}xyz") == (401, b"bad signature")
    assert _refused(session_server, f"?token={expired}") == (401, b"expired token")
    assert not store.presence.is_present("refused-user")


def test_presence_lasts_while_any_session_of_the_user_is_open(
    session_server, client, store, token_for, new_id
):
    user = new_id("two-tabs")
    token = token_for(user)
    with browser(session_server, token) as first:
        with browser(session_server, token) as second:
            wait_until(lambda: session_server.hub.session_count(user) == 2, "two sessions")
            wait_until(lambda: store.presence.is_present(user), "presence")
            event = make_event(user, "INDICATOR_UPDATED", "INFORMATIONAL", payload={"x": 1})
            client.send(event)
            assert receive(first)["event_id"] == event.event_id
            assert receive(second)["event_id"] == event.event_id
        wait_until(lambda: session_server.hub.session_count(user) == 1, "one session left")
        # The server unsubscribes only after the last session, so presence never dropped.
        assert store.presence.is_present(user)
        event = make_event(user, "INDICATOR_UPDATED", "INFORMATIONAL", payload={"x": 2})
        client.send(event)
        assert receive(first)["event_id"] == event.event_id
    wait_until(lambda: not store.presence.is_present(user), "presence gone after the last close")


def test_stop_closes_sessions_and_unsubscribes(ingress, settings, store, token_for, new_id):
    user = new_id("stopping")
    server = SessionServer(settings, store, host="127.0.0.1", port=0).start()
    try:
        with browser(server, token_for(user)) as ws:
            wait_until(lambda: store.presence.is_present(user), "presence")
            server.stop()
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        wait_until(lambda: not store.presence.is_present(user), "presence gone after stop")
    finally:
        server.stop()


def test_subscribes_on_every_ingress_xpub(
    ingress, stack_env, settings, store, token_for, new_id, tmp_path
):
    router, xpub = free_port(), free_port()
    second_id = f"sessions-second-{router}"
    env = {
        **stack_env,
        "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{router}",
        "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{xpub}",
        "NOTIFY_INGRESS_ID": second_id,
    }
    second = start_ingress(env, tmp_path / "ingress2.log")
    user = new_id("multi")
    addresses = [settings.xpub_connect, f"tcp://127.0.0.1:{xpub}"]
    try:
        with SessionServer(settings, store, "127.0.0.1", 0, xpub_addresses=addresses) as server:
            with browser(server, token_for(user)) as ws:
                for ingress_id in (settings.ingress_id, second_id):
                    key = store.keys.presence(ingress_id)
                    wait_until(
                        lambda k=key: store.client.sismember(k, user), f"presence on {ingress_id}"
                    )
                for address in (settings.router_connect, f"tcp://127.0.0.1:{router}"):
                    with Dealer(address) as dealer:
                        event = make_event(
                            user, "STRATEGY_LOG", "INFORMATIONAL", payload={"message": address}
                        )
                        dealer.send(event)
                        assert receive(ws)["event_id"] == event.event_id
            wait_until(
                lambda: not store.client.sismember(store.keys.presence(second_id), user),
                "presence gone from the second ingress",
            )
    finally:
        stop_process(second)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_foreground_server_stops_cleanly_on_signal(
    ingress, stack_env, store, token_for, new_id, tmp_path, signum
):
    port = free_port()
    log_path = tmp_path / "sessions.log"
    process = spawn(
        [sys.executable, "-m", "sessions", "--host", "127.0.0.1", "--port", str(port)],
        stack_env,
        log_path,
    )
    try:
        wait_for_line(log_path, "session server ready", process)
        user = new_id("foreground")
        with open_browser(f"ws://127.0.0.1:{port}/ws", token_for(user)) as ws:
            wait_until(lambda: store.presence.is_present(user), "presence")
            process.send_signal(signum)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
        assert process.wait(15) == 0
    finally:
        stop_process(process)
    log = log_path.read_text()
    assert f"got {signal.Signals(signum).name}, stopping" in log
    assert "session server stopped" in log
    assert "Traceback" not in log
    assert "token=" not in log, "tokens never reach the log"
    wait_until(lambda: not store.presence.is_present(user), "presence gone with the server")
