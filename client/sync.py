"""The thread-based client: `send` returns at once with a Future of the event's final EventAck,
and a background thread owns the socket, reads acks and resends until each event is final.

    with NotifyClient("tcp://127.0.0.1:5571", identity=b"container-42") as client:
        fill = client.notify("u1", "ORDER_FILLED", "CRITICAL", ["TELEGRAM", "EMAIL"],
                             OrderEventPayload(symbol="BTC/USDT", side="buy", fill_quantity="0.5"))
        fill.queued.result(5)      # the service holds it (QUEUED)
        print(fill.result())       # the final ack: DELIVERED via TELEGRAM, or ACK_ERROR
    # leaving the block flushes: it returns once every event is final

Safe to call from any thread: callers only check, encode, persist and queue; the one thread
that touches the ZMQ socket is woken through a pipe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, InvalidStateError
from typing import Any

import zmq

from proto import EventAck, InvalidEvent, Priority, UserEvent

from .connection import CurveKeys, Dealer
from .engine import (
    ClientOptions,
    ClientStats,
    DropCallback,
    Drops,
    Engine,
    Prepared,
    connection_from_env,
)
from .errors import ClientClosed, ClientFull
from .events import Channels, make_event
from .payloads import Payload
from .tracker import InFlight

__all__ = ["Delivery", "NotifyClient"]

log = logging.getLogger(__name__)

AckCallback = Callable[[EventAck], None]


def _settle(future: Future, result: Any = None, error: Exception | None = None) -> None:
    """Resolve `future` unless it is already done (or was cancelled meanwhile)."""
    if future.done():
        return
    try:
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
    except InvalidStateError:
        pass  # cancelled between the check and the set


class Delivery(Future):
    """One event's outcome: a `concurrent.futures.Future` of its final EventAck (DELIVERED or
    ACK_ERROR; it raises NoFinalAck or ClientClosed when none came).

    `queued` is done once the service holds the event: its QUEUED ack, or a final ack that came
    first (the NORMAL fast path). An INFORMATIONAL event's Delivery is done at once with None:
    no ack exists. Cancelling a Delivery only stops you waiting: the client still resends the
    event until it is final (a CRITICAL event is never dropped by the client).
    """

    def __init__(
        self, event_id: str, user_id: str, priority: int, on_ack: AckCallback | None = None
    ) -> None:
        super().__init__()
        self.event_id = event_id
        self.user_id = user_id
        self.priority = priority
        self.queued: Future[EventAck] = Future()
        self._on_ack = on_ack

    def acked(self, ack: EventAck, final: bool) -> None:
        _settle(self.queued, ack)
        if final:
            _settle(self, ack)
        if self._on_ack is not None:
            try:
                self._on_ack(ack)
            except Exception:
                log.exception("event_id=%s the on_ack callback raised", self.event_id)

    def gave_up(self, error: Exception) -> None:
        _settle(self.queued, error=error)
        _settle(self, error=error)


class NotifyClient:
    """A container's client: non-blocking sends over one DEALER owned by a background thread.

    Parameters: `addresses`, the ingress ROUTER (or several replicas, tried in order);
    `identity`, a stable routing id (the container id); `curve`, CURVE keys (`CurveKeys`);
    `on_ack`, called (in the client's thread) with every ack of every event; `on_drop`, called
    with (event_id, reason) for every INFORMATIONAL event dropped (reason: "full",
    "unconnected" or "closed"); `options` or keyword options (`ClientOptions`: max_in_flight,
    block_when_full, outbox, durable, close_timeout_s, ...).

    Events left in the outbox by an earlier run are resent at start; their Deliveries are in
    `recovered`.
    """

    def __init__(
        self,
        addresses: str | Sequence[str] = "tcp://127.0.0.1:5571",
        identity: bytes | None = None,
        *,
        curve: CurveKeys | None = None,
        on_ack: AckCallback | None = None,
        on_drop: DropCallback | None = None,
        context: zmq.Context | None = None,
        options: ClientOptions | None = None,
        **option_values: Any,
    ) -> None:
        self.options = options or ClientOptions(**option_values)
        dealer = Dealer(
            addresses,
            identity,
            curve,
            context,
            self.options.failover_s,
            send_hwm=2 * self.options.max_in_flight + 1000,
        )
        # Guards _open, _closed, _turned_away and the order of commands against close().
        self._room = threading.Condition()
        self._open: dict[str, Delivery] = {}
        #: NORMAL/CRITICAL events with their Delivery, or an INFORMATIONAL one alone.
        self._commands: deque[tuple[Prepared, Delivery] | Prepared] = deque()
        self._drops = Drops(on_drop)
        self._closed = False
        self._stop = threading.Event()
        engine = None
        try:
            engine = Engine(dealer, self.options, self._release, on_ack, self._drops)
            #: Deliveries of the events an earlier run left in the outbox, resent now.
            self.recovered: list[Delivery] = engine.recover(self._register)
        except BaseException:
            if engine is not None:
                engine.close()  # the outbox's lock too, or no client could open it again
            else:
                dealer.close()
            raise
        self._engine = engine
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="notify-client", daemon=True)
        self._thread.start()

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        on_ack: AckCallback | None = None,
        on_drop: DropCallback | None = None,
        **option_values: Any,
    ) -> NotifyClient:
        """A client configured by NOTIFY_CLIENT_INGRESS, NOTIFY_CLIENT_ID, the NOTIFY_CURVE_*
        keys and the variables of ClientOptions.from_env; keyword options win."""
        addresses, identity, curve = connection_from_env(environ)
        options = ClientOptions.from_env(environ, **option_values)
        return cls(
            addresses, identity, curve=curve, on_ack=on_ack, on_drop=on_drop, options=options
        )

    # -- sending -----------------------------------------------------------------------------------

    def send(
        self, event: UserEvent, *, on_ack: AckCallback | None = None, timeout: float | None = None
    ) -> Delivery:
        """Hand the event over and return its Delivery at once.

        Raises proto.InvalidEvent when the ingress would refuse it. With `max_in_flight` events
        open, a NORMAL or CRITICAL event waits for room (up to `timeout`), or raises ClientFull
        when the client does not block (`block_when_full=False`) or the timeout passes; an
        INFORMATIONAL one is dropped and counted. The same event_id while it is open returns
        the open Delivery.
        """
        prepared = self._engine.prepare(event)
        if prepared.priority == Priority.INFORMATIONAL:
            return self._send_informational(prepared)
        # Under the lock from the closed check to the queueing, so close() either refuses this
        # event or finds it in the queue (and fails its Delivery with ClientClosed).
        with self._room:
            self._check_open()
            open_one = self._open_one(prepared)
            if open_one is not None:
                return open_one
            self._wait_for_room(timeout, prepared.event_id)
            # Another thread may have sent the same id while this one waited.
            open_one = self._open_one(prepared)
            if open_one is not None:
                return open_one
            self._engine.persist(prepared)  # on disk before the caller hears "accepted"
            delivery = self._register(prepared, on_ack)
            self._room.notify_all()  # a sender waiting with the same id returns this Delivery
            self._commands.append((prepared, delivery))
            self._wake()
        return delivery

    def notify(
        self,
        user_id: str,
        event_type: str | int,
        priority: str | int = "NORMAL",
        channels: Channels = (),
        payload: Payload | dict[str, Any] | None = None,
        *,
        event_id: str | None = None,
        on_ack: AckCallback | None = None,
        timeout: float | None = None,
    ) -> Delivery:
        """Build the event (client.events.make_event) and `send` it."""
        event = make_event(user_id, event_type, priority, channels, payload, event_id)
        return self.send(event, on_ack=on_ack, timeout=timeout)

    def deliver(self, event: UserEvent, timeout: float | None = None) -> EventAck:
        """Send and wait for the final ack (a blocking convenience for scripts)."""
        return self.send(event).result(timeout)

    def _open_one(self, prepared: Prepared) -> Delivery | None:
        """With the condition held: the open Delivery of this event id, if any."""
        open_one = self._open.get(prepared.event_id)
        if open_one is not None and open_one.user_id != prepared.user_id:
            raise InvalidEvent("event_id", f"{prepared.event_id} is open here for another user")
        return open_one

    def _send_informational(self, prepared: Prepared) -> Delivery:
        delivery = Delivery(prepared.event_id, prepared.user_id, prepared.priority)
        delivery.queued.set_result(None)
        delivery.set_result(None)
        with self._room:
            self._check_open()
            full = len(self._commands) > self.options.max_in_flight
            if not full:
                self._commands.append(prepared)
                self._wake()
        if full:
            self._drops(prepared.event_id, "full")
        return delivery

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosed("the client is closed")

    def _on_client_thread(self) -> bool:
        """Called from an on_ack callback? (Then nothing may wait for this thread.)"""
        return threading.current_thread() is self._thread

    def _wait_for_room(self, timeout: float | None, event_id: str) -> None:
        """With the condition held: return once there is room (or `event_id` was opened by
        another thread meanwhile), else raise ClientFull."""
        limit = self.options.max_in_flight
        if len(self._open) < limit:
            return
        if not self.options.block_when_full or self._on_client_thread():
            raise ClientFull(f"{limit} events are waiting for their final ack")
        if not self._room.wait_for(
            lambda: len(self._open) < limit or self._closed or event_id in self._open, timeout
        ):
            raise ClientFull(f"{limit} events still waiting for their final ack after {timeout}s")
        if self._closed:
            raise ClientClosed("the client closed while this event waited for room")

    def _register(self, prepared: Prepared, on_ack: AckCallback | None = None) -> Delivery:
        delivery = Delivery(prepared.event_id, prepared.user_id, prepared.priority, on_ack)
        self._open[prepared.event_id] = delivery
        return delivery

    def _release(self, item: InFlight) -> None:
        with self._room:
            self._open.pop(item.event_id, None)
            self._room.notify_all()

    # -- waiting and closing -----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> int:
        """Wait until every open event is final (or `timeout`); returns how many are still open.
        Not from an on_ack callback: the acks it waits for come through that very thread."""
        if self._on_client_thread():
            raise RuntimeError("flush() and close() cannot be called from an on_ack callback")
        with self._room:
            self._room.wait_for(lambda: not self._open, timeout)
            return len(self._open)

    def close(self, timeout: float | None = None) -> None:
        """Flush (up to `timeout`), then stop. What is still open fails with ClientClosed;
        durable events stay in the outbox and go again when a client opens it."""
        if self._closed:
            return
        self.flush(timeout)
        with self._room:
            if self._closed:
                return
            self._closed = True
            self._room.notify_all()
            self._stop.set()
            self._wake()
        self._thread.join()
        with self._room:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_w = -1

    def stats(self) -> ClientStats:
        """A snapshot of what the client did."""
        return self._engine.snapshot()

    def __enter__(self) -> NotifyClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        # What is still open when the bound passes fails with ClientClosed; durable events
        # stay in the outbox for the next client.
        self.close(self.options.close_bound(exc_type))

    # -- the client's thread -----------------------------------------------------------------------

    def _wake(self) -> None:
        """With the condition held (close() closes the pipe under it)."""
        if self._wake_w < 0:
            return
        with contextlib.suppress(BlockingIOError):  # full: the thread is awake anyway
            os.write(self._wake_w, b"\0")

    def _run(self) -> None:
        engine = self._engine
        poller = zmq.Poller()
        poller.register(engine.dealer.socket, zmq.POLLIN)
        poller.register(engine.dealer.monitor, zmq.POLLIN)
        poller.register(self._wake_r, zmq.POLLIN)
        while not self._stop.is_set():
            try:
                # Pump first: a handshake it reads resends what was open before it, and what
                # is taken after it goes out once, not twice.
                sleep = engine.pump()
                self._take_commands()
                if not self._commands:
                    poller.poll(sleep * 1000)
                self._drain_wake_pipe()
            except Exception:  # a bug must not leave every Delivery hanging
                log.exception("the client's loop failed; going on")
                time.sleep(0.1)
        self._take_commands()
        engine.abandon_all(ClientClosed("the client closed before a final ack"))
        engine.close()

    def _take_commands(self) -> None:
        while self._commands:
            command = self._commands.popleft()
            if isinstance(command, Prepared):
                self._engine.send_informational(command)
            else:
                prepared, delivery = command
                self._engine.admit(prepared, delivery)

    def _drain_wake_pipe(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
