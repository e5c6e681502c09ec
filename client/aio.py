"""The asyncio client, on zmq.asyncio: the same guarantees as NotifyClient, for containers built
on an event loop. A task of the client's owns the socket; nothing here blocks the loop but a
durable event's SQLite write.

    async with AsyncNotifyClient("tcp://127.0.0.1:5571", identity=b"bot-7") as client:
        ack = await client.notify("u1", "POSITION_LIQUIDATED", "CRITICAL", ["TELEGRAM", "PUSH"],
                                  PositionEventPayload(symbol="ETH/USDT", side="long"))
        pending = client.send_nowait(event)      # an asyncio.Future of the final ack

Use it from the loop it was started on. Cancelling a future (a `wait_for` that timed out, a
cancelled task) only stops that wait: the client still resends the event until it is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import zmq
import zmq.asyncio

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

__all__ = ["AsyncDelivery", "AsyncNotifyClient"]

log = logging.getLogger(__name__)

AckCallback = Callable[[EventAck], None]


class AsyncDelivery(asyncio.Future):
    """One event's outcome: an asyncio.Future of its final EventAck (DELIVERED or ACK_ERROR;
    NoFinalAck or ClientClosed when none came). `queued` is done once the service holds the
    event; an INFORMATIONAL event's future is done at once with None."""

    def __init__(
        self, prepared: Prepared, on_ack: AckCallback | None, loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__(loop=loop)
        self.event_id = prepared.event_id
        self.user_id = prepared.user_id
        self.priority = prepared.priority
        self.queued: asyncio.Future[EventAck] = loop.create_future()
        self._on_ack = on_ack

    def acked(self, ack: EventAck, final: bool) -> None:
        if not self.queued.done():
            self.queued.set_result(ack)
        if final and not self.done():
            self.set_result(ack)
        if self._on_ack is not None:
            try:
                self._on_ack(ack)
            except Exception:
                log.exception("event_id=%s the on_ack callback raised", self.event_id)

    def gave_up(self, error: Exception) -> None:
        for future in (self.queued, self):
            if not future.done():
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" warning if nobody waits


class AsyncNotifyClient:
    """A container's asyncio client; parameters as NotifyClient's. Start it with `await
    client.start()` or `async with`; events left in the outbox by an earlier run are resent
    then, their futures in `recovered`."""

    def __init__(
        self,
        addresses: str | Sequence[str] = "tcp://127.0.0.1:5571",
        identity: bytes | None = None,
        *,
        curve: CurveKeys | None = None,
        on_ack: AckCallback | None = None,
        on_drop: DropCallback | None = None,
        options: ClientOptions | None = None,
        **option_values: Any,
    ) -> None:
        self.options = options or ClientOptions(**option_values)
        self._connection = (addresses, identity, curve)
        self._on_ack = on_ack
        self._drops = Drops(on_drop)
        self._engine: Engine | None = None
        self._task: asyncio.Task | None = None
        self._open: dict[str, AsyncDelivery] = {}
        self._room = asyncio.Event()  # set whenever an event leaves
        self._idle = asyncio.Event()  # set while nothing is open
        self._idle.set()
        self._closed = False
        self.recovered: list[AsyncDelivery] = []

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        on_ack: AckCallback | None = None,
        on_drop: DropCallback | None = None,
        **option_values: Any,
    ) -> AsyncNotifyClient:
        """As NotifyClient.from_env."""
        addresses, identity, curve = connection_from_env(environ)
        options = ClientOptions.from_env(environ, **option_values)
        return cls(
            addresses, identity, curve=curve, on_ack=on_ack, on_drop=on_drop, options=options
        )

    async def start(self) -> AsyncNotifyClient:
        """Connect, resend what the outbox kept, and start the client's task."""
        if self._engine is not None:
            return self
        loop = asyncio.get_running_loop()
        addresses, identity, curve = self._connection
        dealer = Dealer(
            addresses,
            identity,
            curve,
            failover_s=self.options.failover_s,
            send_hwm=2 * self.options.max_in_flight + 1000,
        )
        engine = None
        try:
            engine = Engine(dealer, self.options, self._release, self._on_ack, self._drops)
            self.recovered = engine.recover(lambda p: self._register(p, None, loop))
        except BaseException:
            if engine is not None:
                engine.close()  # the outbox's lock too, or no client could open it again
            else:
                dealer.close()
            self._open.clear()
            self._idle.set()
            raise
        self._engine = engine
        self._task = loop.create_task(self._run(), name="notify-client")
        return self

    async def __aenter__(self) -> AsyncNotifyClient:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        # As NotifyClient: until final, up to close_timeout_s on an error, not on cancellation.
        await self.close(self.options.close_bound(exc_type))

    # -- sending -----------------------------------------------------------------------------------

    def send_nowait(self, event: UserEvent, *, on_ack: AckCallback | None = None) -> AsyncDelivery:
        """Send now; the future resolves to the final ack. Raises proto.InvalidEvent as the
        ingress would, and ClientFull with `max_in_flight` events open (an INFORMATIONAL event
        is dropped and counted instead)."""
        return self._send_prepared(self._started().prepare(event), on_ack)

    def _send_prepared(self, prepared: Prepared, on_ack: AckCallback | None) -> AsyncDelivery:
        engine = self._started()
        loop = asyncio.get_running_loop()
        if prepared.priority == Priority.INFORMATIONAL:
            delivery = AsyncDelivery(prepared, None, loop)
            delivery.queued.set_result(None)
            delivery.set_result(None)
            engine.send_informational(prepared)
            return delivery
        open_one = self._open.get(prepared.event_id)
        if open_one is not None:
            if open_one.user_id != prepared.user_id:
                raise InvalidEvent("event_id", f"{prepared.event_id} is open here for another user")
            return open_one
        if len(self._open) >= self.options.max_in_flight:
            raise ClientFull(f"{self.options.max_in_flight} events are waiting for their final ack")
        engine.persist(prepared)
        delivery = self._register(prepared, on_ack, loop)
        engine.admit(prepared, delivery)
        return delivery

    async def send(
        self, event: UserEvent, *, on_ack: AckCallback | None = None, timeout: float | None = None
    ) -> EventAck | None:
        """Send and wait for the final ack (None for INFORMATIONAL). With `max_in_flight`
        events open it first waits for room (unless `block_when_full=False`: ClientFull).
        `timeout` bounds the whole wait (TimeoutError); the event is still resent after it."""
        prepared = self._started().prepare(event)  # a bad event raises before any wait
        async with asyncio.timeout(timeout):
            if prepared.priority != Priority.INFORMATIONAL and self.options.block_when_full:
                await self._wait_for_room(prepared.event_id)
            # Nothing runs between the wait and this call: the same id sent by another task
            # meanwhile is found open here, and its future returned.
            delivery = self._send_prepared(prepared, on_ack)
            return await asyncio.shield(delivery)

    async def notify(
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
    ) -> EventAck | None:
        """Build the event (client.events.make_event), send it and wait for its final ack."""
        event = make_event(user_id, event_type, priority, channels, payload, event_id)
        return await self.send(event, on_ack=on_ack, timeout=timeout)

    async def _wait_for_room(self, event_id: str) -> None:
        while (
            len(self._open) >= self.options.max_in_flight
            and event_id not in self._open
            and not self._closed
        ):
            self._room.clear()
            await self._room.wait()

    def _register(
        self, prepared: Prepared, on_ack: AckCallback | None, loop: asyncio.AbstractEventLoop
    ) -> AsyncDelivery:
        delivery = AsyncDelivery(prepared, on_ack, loop)
        self._open[prepared.event_id] = delivery
        self._idle.clear()
        return delivery

    def _release(self, item: InFlight) -> None:
        self._open.pop(item.event_id, None)
        self._room.set()
        if not self._open:
            self._idle.set()

    # -- waiting and closing -----------------------------------------------------------------------

    async def flush(self, timeout: float | None = None) -> int:
        """Wait until every open event is final (or `timeout`); returns how many are still open."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        return len(self._open)

    async def close(self, timeout: float | None = None) -> None:
        """Flush (up to `timeout`), then stop; what is still open fails with ClientClosed, and
        durable events stay in the outbox for the next client that opens it."""
        if self._closed or self._engine is None:
            self._closed = True
            return
        await self.flush(timeout)
        self._closed = True
        self._room.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._engine.abandon_all(ClientClosed("the client closed before a final ack"))
        self._engine.close()

    def stats(self) -> ClientStats:
        """A snapshot of what the client did (empty before it started)."""
        return self._engine.snapshot() if self._engine is not None else ClientStats()

    def _started(self) -> Engine:
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._engine is None:
            raise RuntimeError("start the client first: `await client.start()` or `async with`")
        return self._engine

    # -- the client's task -------------------------------------------------------------------------

    async def _run(self) -> None:
        engine = self._engine
        assert engine is not None
        # Async shadows of the dealer's sockets, for waiting only; the engine reads and writes
        # the sockets themselves, never blocking.
        poller = zmq.asyncio.Poller()
        poller.register(zmq.asyncio.Socket.shadow(engine.dealer.socket.underlying), zmq.POLLIN)
        poller.register(zmq.asyncio.Socket.shadow(engine.dealer.monitor.underlying), zmq.POLLIN)
        while True:
            try:
                sleep = engine.pump()
            except Exception:  # a bug must not leave every future hanging
                log.exception("the client's loop failed; going on")
                sleep = 0.1
            await poller.poll(sleep * 1000)
