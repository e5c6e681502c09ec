"""The client with no ingress to answer (a dead address): what it does on its own. Nothing here
is ever acked, so events stay open as long as a test needs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import zmq

from client import (
    AsyncNotifyClient,
    ClientClosed,
    ClientFull,
    ClientOptions,
    NoFinalAck,
    NotifyClient,
    make_event,
)
from client.outbox import Outbox, Stored
from proto import (
    AckStatus,
    ChannelType,
    InvalidEvent,
    Priority,
    ack_frame,
    decode_frame,
    encode_event,
)
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


#: What a stand-in ingress answers to an event: (after seconds, ack frame) pairs.
Answer = Callable[[object], list[tuple[float, bytes]]]


@pytest.fixture
def stand_in() -> Iterator[Callable[[Answer], str]]:
    """ROUTERs that answer each event (every send of it) as `answer` says, on their own clock."""
    stops: list[Callable[[], None]] = []

    def start(answer: Answer) -> str:
        router = zmq.Context.instance().socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        stop = threading.Event()

        def serve() -> None:
            later: list[tuple[float, bytes, bytes]] = []
            while not stop.is_set():
                if router.poll(10):
                    peer, frame = router.recv_multipart()
                    now = time.monotonic()
                    later += [
                        (now + after, peer, ack) for after, ack in answer(decode_frame(frame))
                    ]
                now = time.monotonic()
                for item in [item for item in later if item[0] <= now]:
                    later.remove(item)
                    router.send_multipart(list(item[1:]))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()

        def finish() -> None:
            stop.set()
            thread.join()
            router.close()

        stops.append(finish)
        return f"tcp://127.0.0.1:{port}"

    yield start
    for finish in stops:
        finish()


def _delivered_after(seconds: float) -> Answer:
    return lambda event: [
        (0.0, ack_frame(event.event_id, AckStatus.QUEUED)),
        (seconds, ack_frame(event.event_id, AckStatus.DELIVERED, ChannelType.DISCORD)),
    ]


def test_two_threads_sending_the_same_id_to_a_full_client_share_one_delivery(stand_in):
    client = NotifyClient(stand_in(_delivered_after(0.3)), max_in_flight=1)
    blocker = client.send(_critical())
    same = _critical()
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(client.send(same))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(got) == 2 and got[0] is got[1], "one Delivery for one open event id"
    assert got[0].result(10).status == AckStatus.DELIVERED
    assert blocker.result(10).status == AckStatus.DELIVERED
    assert client.flush(timeout=10) == 0
    assert client.stats().accepted == 2
    client.close()


def test_informational_drops_are_counted_by_reason_logged_and_reported(dead, caplog):
    caplog.set_level(logging.WARNING, logger="client.engine")
    heard: list[tuple[str, str]] = []
    full = NotifyClient(dead, max_in_flight=1, on_drop=lambda *drop: heard.append(drop))
    full.send(_critical())
    infos = [full.notify("u1", "STRATEGY_LOG", "INFORMATIONAL") for _ in range(3)]
    wait_until(lambda: full.stats().informational_dropped_full == 3, "3 drops: client full")
    full.close(timeout=0)
    # Dropped in the sender's thread or the client's (both count as full): in either order.
    assert sorted(heard) == sorted((info.event_id, "full") for info in infos)
    warned = [r.getMessage() for r in caplog.records if "INFORMATIONAL dropped" in r.getMessage()]
    assert len(warned) == 1, "one line, not one per drop"
    assert heard[0][0] in warned[0] and "(full" in warned[0]

    quiet = NotifyClient(dead, on_drop=lambda *drop: heard.append(drop))
    late = quiet.notify("u1", "STRATEGY_LOG", "INFORMATIONAL")
    wait_until(lambda: quiet.stats().informational_dropped_unconnected == 1, "the drop after 1 s")
    cut = quiet.notify("u1", "STRATEGY_LOG", "INFORMATIONAL")
    quiet.close()  # still held for an ingress: dropped, and counted
    stats = quiet.stats()
    assert (
        stats.informational_dropped,
        stats.informational_dropped_full,
        stats.informational_dropped_unconnected,
        stats.informational_dropped_closed,
    ) == (2, 0, 1, 1)
    assert heard[3:] == [(late.event_id, "unconnected"), (cut.event_id, "closed")]
    warned = [r.getMessage() for r in caplog.records if "INFORMATIONAL dropped" in r.getMessage()]
    assert any(late.event_id in line and "(unconnected" in line for line in warned)
    assert any(cut.event_id in line and "(closed" in line for line in warned)


def test_leaving_a_with_block_on_an_error_still_flushes(stand_in):
    address = stand_in(_delivered_after(0.3))
    with (
        pytest.raises(RuntimeError, match="the container's own error"),
        NotifyClient(address) as client,
    ):
        delivery = client.send(_critical())
        raise RuntimeError("the container's own error")
    assert delivery.result(0).status == AckStatus.DELIVERED, "final before the block was left"


def test_leaving_on_an_error_stops_at_close_timeout_and_keeps_durable_events(dead, tmp_path):
    outbox = str(tmp_path / "outbox.db")
    leaving = NotifyClient(dead, outbox=outbox, close_timeout_s=0.2)
    with pytest.raises(RuntimeError), leaving as client:
        durable = client.send(_critical())
        normal = client.notify("u1", "ALERT_TRIGGERED", "NORMAL", ["EMAIL"])
        raise RuntimeError("boom")
    for delivery in (durable, normal):
        with pytest.raises(ClientClosed):
            delivery.result(0)
    stored = Outbox(outbox)
    assert [row.event_id for row in stored.load()] == [durable.event_id]
    stored.close()


def test_ctrl_c_in_a_with_block_stops_at_once(dead):
    import time

    leaving = NotifyClient(dead, close_timeout_s=30)
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), leaving as client:
        open_one = client.send(_critical())
        raise KeyboardInterrupt
    assert time.monotonic() - started < 5, "not the 30 s of close_timeout_s"
    with pytest.raises(ClientClosed):
        open_one.result(0)


def test_durable_normal_from_the_environment_is_kept_and_resent_after_a_restart(dead, tmp_path):
    env = {
        "NOTIFY_CLIENT_INGRESS": dead,
        "NOTIFY_CLIENT_OUTBOX": str(tmp_path / "outbox.db"),
        "NOTIFY_CLIENT_DURABLE": "critical, NORMAL",
    }
    client = NotifyClient.from_env(env)
    assert client.options.durable == {Priority.CRITICAL, Priority.NORMAL}
    normal = client.notify("u1", "ALERT_TRIGGERED", "NORMAL", ["EMAIL"])
    client.close(timeout=0)
    again = NotifyClient.from_env(env)
    assert [(d.event_id, d.priority) for d in again.recovered] == [
        (normal.event_id, Priority.NORMAL)
    ]
    assert again.stats().recovered == 1
    again.close(timeout=0)
    with pytest.raises(ValueError, match="NOTIFY_CLIENT_DURABLE: durable: 'SOMETIMES'"):
        ClientOptions.from_env({"NOTIFY_CLIENT_DURABLE": "SOMETIMES"})


def test_the_async_client_keeps_durable_events_in_its_outbox_across_a_restart(dead, tmp_path):
    outbox = str(tmp_path / "outbox.db")

    async def scenario():
        async with AsyncNotifyClient(dead, outbox=outbox, durable={"CRITICAL", "NORMAL"}) as first:
            kept = first.send_nowait(_critical())
            normal = first.send_nowait(make_event("u1", "ALERT_TRIGGERED", "NORMAL", ["EMAIL"]))
            await first.close(timeout=0)
        with pytest.raises(ClientClosed):
            await kept
        async with AsyncNotifyClient(dead, outbox=outbox) as second:
            recovered = sorted(f.event_id for f in second.recovered)
            await second.close(timeout=0)
        return recovered, sorted([kept.event_id, normal.event_id])

    recovered, sent = asyncio.run(scenario())
    assert recovered == sent


def test_an_event_recovered_after_its_deadline_still_hears_the_ingress_answer(stand_in, tmp_path):
    event = _critical()
    frame = encode_event(event)
    stored = Outbox(tmp_path / "outbox.db")
    stored.add(Stored("u1", event.event_id, Priority.CRITICAL, frame, time.time() - 60))
    stored.close()
    reason = "deadline passed before delivery; DISCORD: transient (HTTP 500)"
    address = stand_in(lambda e: [(0.5, ack_frame(e.event_id, AckStatus.ACK_ERROR, error=reason))])
    client = NotifyClient(address, outbox=str(tmp_path / "outbox.db"))
    [recovered] = client.recovered
    ack = recovered.result(10)
    assert (ack.status, ack.error_message) == (AckStatus.ACK_ERROR, reason)
    client.close()


def test_a_failed_recovery_releases_the_outbox(dead, tmp_path):
    path = tmp_path / "outbox.db"
    broken = sqlite3.connect(path)
    broken.execute("CREATE TABLE outbox (user_id TEXT, event_id TEXT, extra TEXT)")
    broken.execute("INSERT INTO outbox VALUES ('u1', 'e1', 'x')")
    broken.commit()
    broken.close()
    with pytest.raises(sqlite3.OperationalError, match="give_up_at"):  # a damaged file
        NotifyClient(dead, outbox=str(path))
    Outbox(path).close()  # not OutboxBusy: the failed client let go of it


def test_the_async_client_refuses_a_bad_event_before_waiting_for_room(dead):
    async def scenario():
        async with AsyncNotifyClient(dead, max_in_flight=1) as client:
            client.send_nowait(_critical())
            with pytest.raises(InvalidEvent, match="user_id"):
                await asyncio.wait_for(client.send(_critical(user="")), 5)
            await client.close(timeout=0)

    asyncio.run(scenario())
