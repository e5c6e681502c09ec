"""The client with no ingress to answer (a dead address): what it does on its own. Nothing here
is ever acked, so events stay open as long as a test needs."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import pytest
import zmq

from client import (
    AsyncNotifyClient,
    ClientClosed,
    ClientFull,
    NoFinalAck,
    NotifyClient,
    make_event,
)
from client.outbox import Outbox
from proto import AckStatus, ack_frame, decode_frame
from tests.helpers import free_port, wait_until


@pytest.fixture
def dead() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


def _critical(user: str = "u1"):
    return make_event(user, "ORDER_FILLED", "CRITICAL", ["DISCORD"], {"symbol": "X"})


def test_informational_is_done_at_once_and_dropped_when_no_ingress_comes(dead):
    with NotifyClient(dead) as client:
        info = client.send(make_event("u1", "STRATEGY_LOG", "INFORMATIONAL"))
        assert info.done() and info.result() is None
        assert info.queued.done() and info.queued.result() is None
        wait_until(lambda: client.stats().informational_dropped == 1, "the drop after 1 s")


def test_full_client_raises_when_told_not_to_block_and_send_after_close_is_refused(dead):
    client = NotifyClient(dead, max_in_flight=2, block_when_full=False)
    open_ones = [client.send(_critical()), client.send(_critical())]
    with pytest.raises(ClientFull, match="2 events are waiting"):
        client.send(_critical())
    same = client.send(make_event("u1", "ORDER_FILLED", "CRITICAL", event_id=open_ones[0].event_id))
    assert same is open_ones[0], "the same event id while open is the same Delivery"
    assert client.flush(timeout=0.2) == 2
    client.close(timeout=0)
    for delivery in open_ones:
        with pytest.raises(ClientClosed):
            delivery.result(5)
    with pytest.raises(ClientClosed):
        client.send(_critical())


def test_close_keeps_durable_events_on_disk_and_a_deadline_gives_up(dead, tmp_path):
    outbox = str(tmp_path / "outbox.db")
    client = NotifyClient(dead, outbox=outbox)
    kept = client.send(_critical())
    client.notify("u1", "ALERT_TRIGGERED", "NORMAL", ["EMAIL"])  # NORMAL: not durable by default
    client.close(timeout=0)
    with pytest.raises(ClientClosed):
        kept.result(5)
    stored = Outbox(outbox)
    assert [row.event_id for row in stored.load()] == [kept.event_id]
    stored.close()
    again = NotifyClient(dead, outbox=outbox)
    [recovered] = again.recovered
    assert recovered.event_id == kept.event_id
    again.close(timeout=0)


def test_an_event_past_its_deadline_gives_up_and_leaves_the_outbox(dead, tmp_path):
    outbox = str(tmp_path / "outbox.db")
    with NotifyClient(dead, outbox=outbox, critical_deadline_s=0.2, final_ack_grace_s=0) as client:
        late = client.send(_critical())
        with pytest.raises(NoFinalAck, match=late.event_id):
            late.result(10)
        assert client.stats().gave_up == 1
    stored = Outbox(outbox)
    assert stored.load() == []
    stored.close()


@pytest.fixture
def queued_only() -> Iterator[str]:
    """A ROUTER that answers every event QUEUED and never more (a stand-in ingress)."""
    router = zmq.Context.instance().socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            if router.poll(50):
                peer, frame = router.recv_multipart()
                event = decode_frame(frame)
                router.send_multipart([peer, ack_frame(event.event_id, AckStatus.QUEUED)])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{port}"
    stop.set()
    thread.join()
    router.close()


def test_a_callback_may_not_wait_for_its_own_thread(queued_only):
    """on_ack runs in the client's thread: from there a full client raises instead of waiting,
    and flush/close refuse (the acks they would wait for come through that thread)."""
    outcomes: list[str] = []
    client = NotifyClient(queued_only, max_in_flight=1)

    def on_ack(ack) -> None:
        if outcomes:  # a resend's QUEUED calls again: the first call is the one looked at
            return
        for call in (lambda: client.send(_critical()), client.flush, client.close):
            try:
                call()
            except Exception as exc:  # noqa: BLE001 (whatever it is, it is recorded)
                outcomes.append(type(exc).__name__)

    delivery = client.send(_critical(), on_ack=on_ack)
    assert delivery.queued.result(10).status == AckStatus.QUEUED
    wait_until(lambda: len(outcomes) == 3, "the callback to finish")
    assert outcomes == ["ClientFull", "RuntimeError", "RuntimeError"]
    client.close(timeout=0)


def test_the_async_client_refuses_when_full_and_a_cancelled_wait_does_not_cancel(dead):
    async def scenario():
        async with AsyncNotifyClient(dead, max_in_flight=1) as client:
            pending = client.send_nowait(_critical())
            with pytest.raises(ClientFull):
                client.send_nowait(_critical())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(pending, 0.05)  # cancels `pending`
            assert pending.cancelled()
            assert client.stats().in_flight == 1, "still resent until final"
            assert await client.flush(timeout=0.2) == 1
            await client.close(timeout=0)
        return client.stats()

    stats = asyncio.run(scenario())
    assert stats.accepted == 1
