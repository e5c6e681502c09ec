"""Nothing let in: a CURVE ingress admits only registered keys, each for what it may do; protected
mode keeps an unauthenticated ingress on loopback; limits answer ACK_ERROR, never drop."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
import zmq

from client import CurveKeys, Dealer, NotifyClient, make_event
from proto import AckStatus, encode_event, topic_for
from settings import connect_address
from store import Role
from tests.helpers import (
    ROOT,
    collect_acks,
    free_port,
    start_ingress,
    stop_process,
    wait_until,
)


@pytest.fixture
def curve_ingress(stack_env, worker, scheduler, tmp_path) -> Iterator[dict]:
    """An ingress of its own with a server key, on the test stack's Redis and worker."""
    public, secret = (k.decode() for k in zmq.curve_keypair())
    env = {
        **stack_env,
        "NOTIFY_CURVE_SERVER_SECRET": secret,
        "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_ID": f"curve-{uuid.uuid4().hex[:6]}",
    }
    process = start_ingress(env, tmp_path / "ingress.log")
    yield {"env": env, "public": public, "process": process}
    stop_process(process)


def _key(store, role: Role, subject: str) -> tuple[str, str]:
    public, secret = (k.decode() for k in zmq.curve_keypair())
    store.keyring.add(public, role, subject)
    return public, secret


def _client(ingress: dict, pair: tuple[str, str] | None) -> Dealer:
    if pair is None:  # not registered: a fresh pair nobody knows
        pair = tuple(k.decode() for k in zmq.curve_keypair())  # type: ignore[assignment]
    curve = CurveKeys(ingress["public"], pair[0], pair[1])
    router = connect_address(ingress["env"]["NOTIFY_INGRESS_ROUTER"])
    return Dealer(router, identity=f"c-{uuid.uuid4().hex[:6]}".encode(), curve=curve)


def _deliver(dealer: Dealer, event) -> list:
    """Send once and read this event's acks until a final one."""
    dealer.send(event)
    return collect_acks(dealer, event.event_id, 20)


def _order(user: str, channels=("DISCORD",)):
    return make_event(
        user, "ORDER_FILLED", "CRITICAL", [(c, False) for c in channels], {"symbol": "X"}
    )


def test_a_container_key_sends_for_its_own_user_only(curve_ingress, store, pipeline, new_id):
    alice, bob = new_id("alice"), new_id("bob")
    store.directory.update(alice, discord_webhook=f"{pipeline.url}/discord/api/webhooks/2/{alice}")
    with _client(curve_ingress, _key(store, Role.CONTAINER, alice)) as container:
        own = _order(alice)
        acks = _deliver(container, own)
        assert [a.status for a in acks] == [AckStatus.QUEUED, AckStatus.DELIVERED]

        theirs = _order(bob)
        (refused,) = _deliver(container, theirs)
    assert (refused.status, refused.error_message) == (
        AckStatus.ACK_ERROR,
        f"not authorized for user {bob}",
    )
    assert store.claims.read(bob, theirs.event_id) == {}, "no state of that user touched"


def test_the_container_client_takes_its_curve_keys_from_the_environment(
    curve_ingress, store, pipeline, new_id
):
    user = new_id("envkeys")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/2/{user}")
    public, secret = _key(store, Role.CONTAINER, user)
    environ = {
        "NOTIFY_CLIENT_INGRESS": connect_address(curve_ingress["env"]["NOTIFY_INGRESS_ROUTER"]),
        "NOTIFY_CLIENT_ID": f"env-{user}",
        "NOTIFY_CURVE_SERVER_PUBLIC": curve_ingress["public"],
        "NOTIFY_CURVE_CLIENT_PUBLIC": public,
        "NOTIFY_CURVE_CLIENT_SECRET": secret,
    }
    with NotifyClient.from_env(environ) as client:
        ack = client.send(_order(user)).result(30)
    assert ack.status == AckStatus.DELIVERED
    with pytest.raises(
        ValueError, match="NOTIFY_CURVE_CLIENT_PUBLIC and NOTIFY_CURVE_CLIENT_SECRET"
    ):
        CurveKeys.from_env({"NOTIFY_CURVE_SERVER_PUBLIC": curve_ingress["public"]})


def test_a_service_key_sends_for_any_user(curve_ingress, store, pipeline, new_id):
    user = new_id("anyone")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/2/{user}")
    with _client(curve_ingress, _key(store, Role.SERVICE, "risk-engine")) as service:
        acks = _deliver(service, _order(user))
    assert acks[-1].status == AckStatus.DELIVERED


@pytest.mark.parametrize("role", [None, Role.SUBSCRIBER], ids=["unregistered", "subscriber"])
def test_a_key_that_may_not_send_is_refused_at_the_handshake(curve_ingress, store, new_id, role):
    pair = None if role is None else _key(store, role, "dashboard")
    with _client(curve_ingress, pair) as stranger:
        event = _order(new_id("victim"))
        stranger.send(event)
        assert stranger.recv_ack(2.0) is None
    assert store.claims.read(event.user_id, event.event_id) == {}


def _sub(ingress: dict, pair: tuple[str, str], topic: bytes) -> zmq.Socket:
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    CurveKeys(ingress["public"], *pair).apply(sub)
    sub.connect(connect_address(ingress["env"]["NOTIFY_INGRESS_XPUB"]))
    sub.setsockopt(zmq.SUBSCRIBE, topic)
    return sub


def test_only_a_subscriber_key_may_subscribe(curve_ingress, store, new_id):
    user = new_id("watched")
    sender = _client(curve_ingress, _key(store, Role.CONTAINER, user))
    tap = _sub(curve_ingress, _key(store, Role.CONTAINER, user), b"")  # a container: refused
    session = _sub(curve_ingress, _key(store, Role.SUBSCRIBER, "sessions"), topic_for(user))
    try:
        time.sleep(0.5)  # the subscriptions reach the ingress
        info = make_event(user, "INDICATOR_UPDATED", "INFORMATIONAL", payload={"x": 1})
        wait_until(
            lambda: (sender.send(info), session.poll(200))[1],
            "the subscriber key's session to receive",
        )
        assert not tap.poll(500), "a container key taps nothing"
    finally:
        for sock in (tap, session):
            sock.close()
        sender.close()


def test_a_revoked_key_is_dropped_within_seconds(curve_ingress, store, pipeline, new_id):
    user = new_id("revoked")
    store.directory.update(user, discord_webhook=f"{pipeline.url}/discord/api/webhooks/2/{user}")
    pair = _key(store, Role.CONTAINER, user)
    with _client(curve_ingress, pair) as container:
        assert _deliver(container, _order(user))[-1].status == AckStatus.DELIVERED
        store.keyring.revoke(pair[0])
        time.sleep(4)  # the ingress reads the registry every 2 s, then rebinds
        late = _order(user)
        container.send(late)
        assert container.recv_ack(3) is None
    assert store.claims.read(user, late.event_id) == {}


def test_an_oversized_frame_is_refused_and_a_huge_one_drops_only_its_peer(
    pipeline, client, settings, new_id
):
    event = _order(new_id("big"))
    event.payload = b'{"x":"' + b"y" * (settings.max_frame_bytes + 100 - 60) + b'"}'
    client.send_frame(encode_event(event))
    ack = client.recv_ack(10)
    assert ack is not None and ack.status == AckStatus.ACK_ERROR
    assert "exceeds NOTIFY_MAX_FRAME_BYTES" in ack.error_message

    with Dealer(settings.router_connect) as flooder:
        flooder.send_frame(b"\x20" + b"z" * (settings.max_frame_bytes * 4))  # over ZMQ's cap
        assert flooder.recv_ack(1.0) is None
    ok = _order(new_id("after"), channels=())
    client.send(ok)
    assert client.recv_ack(10) is not None, "the ingress serves others after dropping the peer"


def _ingress_exit(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ingress"],
        cwd=ROOT,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_protected_mode_refuses_to_listen_on_other_hosts_without_a_key(stack_env):
    env = {**stack_env, "NOTIFY_INGRESS_ROUTER": f"tcp://0.0.0.0:{free_port()}"}
    done = _ingress_exit(env)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "refusing to listen on 0.0.0.0 without authentication" in line
    assert "NOTIFY_CURVE_SERVER_SECRET" in line and "NOTIFY_INSECURE=1" in line


def test_the_default_bind_is_loopback_without_a_key(stack_env, tmp_path):
    port = free_port()
    env = {
        **stack_env,
        "NOTIFY_INGRESS_ROUTER": f"tcp://*:{port}",
        "NOTIFY_INGRESS_XPUB": f"tcp://*:{free_port()}",
        "NOTIFY_INGRESS_ID": f"loop-{uuid.uuid4().hex[:6]}",
    }
    process = start_ingress(env, tmp_path / "ingress.log")
    try:
        log = (tmp_path / "ingress.log").read_text()
        assert f"ROUTER tcp://127.0.0.1:{port}" in log
    finally:
        stop_process(process)


def test_insecure_listens_everywhere_and_warns(stack_env, tmp_path):
    env = {
        **stack_env,
        "NOTIFY_INSECURE": "1",
        "NOTIFY_INGRESS_ROUTER": f"tcp://0.0.0.0:{free_port()}",
        "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{free_port()}",
        "NOTIFY_INGRESS_ID": f"insecure-{uuid.uuid4().hex[:6]}",
    }
    process = start_ingress(env, tmp_path / "ingress.log")
    try:
        assert (
            "NOTIFY_INSECURE=1: listening without authentication"
            in (tmp_path / "ingress.log").read_text()
        )
    finally:
        stop_process(process)
