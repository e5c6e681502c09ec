"""Ingress process lifecycle: clean stop on SIGTERM/SIGINT, presence cleared with it."""

from __future__ import annotations

import signal

import pytest
import zmq

from client import Dealer, make_event
from proto import AckStatus
from tests.helpers import free_port, start_ingress, wait_until


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_ingress_stops_cleanly_on_signal(stack_env, tmp_path, worker, store, signum):
    router, xpub = free_port(), free_port()
    env = {
        **stack_env,
        "NOTIFY_INGRESS_ROUTER": f"tcp://127.0.0.1:{router}",
        "NOTIFY_INGRESS_XPUB": f"tcp://127.0.0.1:{xpub}",
        "NOTIFY_INGRESS_ID": f"lifecycle-{router}",
    }
    process = start_ingress(env, tmp_path / "ingress.log")
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(f"tcp://127.0.0.1:{xpub}")
    sub.setsockopt(zmq.SUBSCRIBE, b"lifecycle-user\x00")
    wait_until(lambda: store.presence.is_present("lifecycle-user"), "presence of the subscriber")
    with Dealer(f"tcp://127.0.0.1:{router}") as dealer:
        event = make_event("lifecycle-user", "ORDER_FILLED", "CRITICAL", [("DISCORD", False)])
        dealer.send(event)
        ack = dealer.recv_ack(10)
        assert ack is not None and ack.status in (AckStatus.QUEUED, AckStatus.ACK_ERROR)

    process.send_signal(signum)
    assert process.wait(15) == 0
    log = (tmp_path / "ingress.log").read_text()
    assert "stopped cleanly" in log
    assert "Traceback" not in log
    assert not store.presence.is_present("lifecycle-user"), (
        "a stopped ingress takes its presence along"
    )
    sub.close()
