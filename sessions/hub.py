"""Who is connected, and the one zmq SUB that feeds them: subscriptions, fan-out, acks.

One SUB socket is connected to every ingress XPUB. A user's topic (``user_id\\x00``) is
subscribed when their first WebSocket opens and unsubscribed when their last one closes, so an
ingress's presence flag is exactly "this user has a live browser session". Each XPUB message for
the user goes to each of their sockets through a small per-socket queue (a slow browser never
stalls the others; one that falls far behind is disconnected).

An ack is recorded in Redis (``store.keys.web_ack``) only for an event this server sent to the
acking socket's user; any other ack is ignored and logged. The person's "Got it" on an event
that asks for it (`asks_for_ack`) is recorded as their acknowledgement on WEB
(store/human_acks.py), which ends that event's escalation.

Every event forwarded is kept in the user's short history (store/history.py) first, at an
offset that rides in the message; a browser that reconnects with the last offset it saw gets
what it missed, in order, then a `recovery` message saying whether that was all of it. While
that is read, the socket's live messages wait, so nothing arrives out of order or twice.
Everything here runs on one event loop; only that loop touches the SUB socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import zmq
import zmq.asyncio
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from logsetup import event_context
from proto import FrameError, UserEvent, decode_frame, topic_for, user_of_topic
from store import Store, StoreError

from .messages import (
    ClientAck,
    ClientMessageError,
    acked_message,
    error_message,
    event_message,
    parse_ack,
    recovery_message,
)

__all__ = ["Hub", "Session"]

log = logging.getLogger(__name__)

#: Messages waiting for one socket before it counts as stuck and is closed.
SEND_QUEUE = 1000
#: Event ids remembered per connected user (for matching acks); the oldest are forgotten first.
SENT_MEMORY = 4096
#: WebSocket close code for a browser that does not keep up (1013: try again later).
CLOSE_TOO_SLOW = 1013
#: WebSocket close code for a token that stopped holding (1008: policy violation).
CLOSE_TOKEN = 1008
#: How long after a recovery the same event arriving live is taken for a duplicate.
RECOVERED_DEDUP_S = 10.0
#: After a failed history write, events go out live without one for this long (a slow or
#: unreachable Redis never holds back live delivery for more than one write).
HISTORY_PAUSE_S = 5.0


@dataclass(eq=False, slots=True)
class Session:
    """One open WebSocket of one authenticated user."""

    user_id: str
    connection: ServerConnection
    outbox: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(SEND_QUEUE))
    writer: asyncio.Task[None] | None = None
    closer: asyncio.Task[None] | None = None
    #: Live messages (event id, text) held while the socket's recovery is read; None after.
    held: list[tuple[str, str]] | None = field(default_factory=list)
    #: The events recovery sent, until RECOVERED_DEDUP_S after it: the same event arriving
    #: live meanwhile (its history write won the race against the read) is not sent twice.
    recovered: set[str] = field(default_factory=set)
    recovered_at: float = 0.0

    async def _write(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self.connection.send(await self.outbox.get())

    def start(self) -> None:
        self.writer = asyncio.create_task(self._write(), name=f"session-writer-{self.user_id}")

    def close(self, code: int, reason: str) -> None:
        """Close the socket (once) with `code` and `reason`."""
        if self.closer is None:
            log.info("user=%s session closed: %s", self.user_id, reason)
            self.closer = asyncio.create_task(self.connection.close(code, reason))

    def push_live(self, event_id: str, text: str) -> None:
        """A live message: held while recovery is being read, dropped when recovery just sent
        the same event, else queued."""
        if self.held is not None:
            self.held.append((event_id, text))
        elif (
            event_id in self.recovered and time.monotonic() - self.recovered_at < RECOVERED_DEDUP_S
        ):
            self.recovered.discard(event_id)
        else:
            self.push(text)

    def push(self, text: str) -> None:
        """Queue a message; close the socket when it is hopelessly behind."""
        try:
            self.outbox.put_nowait(text)
        except asyncio.QueueFull:
            if self.closer is None:
                log.warning("user=%s session too slow, closing it", self.user_id)
                self.closer = asyncio.create_task(self.connection.close(CLOSE_TOO_SLOW, "too slow"))

    async def stop(self) -> None:
        if self.writer is not None:
            self.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.writer


@dataclass(eq=False, slots=True)
class _User:
    sessions: set[Session] = field(default_factory=set)
    #: event id -> None, oldest first: what this server sent to the user.
    sent: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def remember(self, event_id: str) -> None:
        self.sent[event_id] = None
        self.sent.move_to_end(event_id)
        while len(self.sent) > SENT_MEMORY:
            self.sent.popitem(last=False)


class Hub:
    """The live sessions of one server and its SUB socket.

    Parameters: `sub`, a zmq.asyncio SUB already connected to every ingress XPUB; `store`, for
    acks and the history; `ack_ttl_s`, the lifetime of a recorded ack (at least twice the WEB
    channel's ack wait); `asks_for_ack(event)`, does the event wait for the person's "Got it";
    `history`, how many events and seconds of them each user's history keeps.
    """

    def __init__(
        self,
        sub: zmq.asyncio.Socket,
        store: Store,
        ack_ttl_s: int,
        asks_for_ack: Callable[[UserEvent], bool] = lambda event: False,
        history: tuple[int, int] = (100, 300),
    ) -> None:
        self._sub = sub
        self._store = store
        self._ack_ttl_s = ack_ttl_s
        self._asks_for_ack = asks_for_ack
        self._history = history
        self._history_paused_until = 0.0
        self._users: dict[str, _User] = {}
        #: What was sent to users whose last socket closed, and when: a browser that reconnects
        #: quickly may still ack those events.
        self._left: dict[str, tuple[OrderedDict[str, None], float]] = {}

    # Sessions and subscriptions.

    def join(self, user_id: str, connection: ServerConnection) -> Session:
        """A socket opened: subscribe the user's topic if it is their first."""
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User()
            sent, left_at = self._left.pop(user_id, (None, 0.0))
            if sent is not None and time.monotonic() - left_at < self._ack_ttl_s:
                user.sent = sent
            self._sub.setsockopt(zmq.SUBSCRIBE, topic_for(user_id))
            log.info("user=%s subscribed (first session)", user_id)
        session = Session(user_id, connection)
        session.start()
        user.sessions.add(session)
        log.info("user=%s session opened sessions=%d", user_id, len(user.sessions))
        return session

    async def leave(self, session: Session) -> None:
        """A socket closed: unsubscribe the user's topic if it was their last."""
        await session.stop()
        user = self._users.get(session.user_id)
        if user is None:
            return
        user.sessions.discard(session)
        log.info("user=%s session closed sessions=%d", session.user_id, len(user.sessions))
        if not user.sessions:
            del self._users[session.user_id]
            self._unsubscribe(session.user_id)
            now = time.monotonic()
            self._left[session.user_id] = (user.sent, now)
            for user_id, (_, left_at) in list(self._left.items()):
                if now - left_at >= self._ack_ttl_s:
                    del self._left[user_id]

    def _unsubscribe(self, user_id: str) -> None:
        with contextlib.suppress(zmq.ZMQError):  # the socket may already be closing
            self._sub.setsockopt(zmq.UNSUBSCRIBE, topic_for(user_id))
        log.info("user=%s unsubscribed (no session left)", user_id)

    def unsubscribe_all(self) -> None:
        """Drop every subscription (server stopping)."""
        for user_id in list(self._users):
            del self._users[user_id]
            self._unsubscribe(user_id)

    def users(self) -> set[str]:
        """Users with at least one open session."""
        return set(self._users)

    def session_count(self, user_id: str) -> int:
        """Open sessions of one user."""
        user = self._users.get(user_id)
        return len(user.sessions) if user else 0

    # Tokens stop holding.

    def enforce(self, now: float, revoked_before: dict[str, float]) -> int:
        """Close every socket whose token expired, or was signed before its user's revocation
        (`revoked_before`: user -> time); returns how many were closed."""
        closed = 0
        for user_id, user in list(self._users.items()):
            for session in list(user.sessions):
                grant = getattr(session.connection, "token_grant", None)
                if grant is None:
                    continue
                if now >= grant.expires_at:
                    session.close(CLOSE_TOKEN, "token expired")
                elif grant.issued_at < revoked_before.get(user_id, 0.0):
                    session.close(CLOSE_TOKEN, "token revoked")
                else:
                    continue
                closed += 1
        return closed

    # XPUB -> browsers.

    async def pump(self) -> None:
        """Forward every XPUB message to its user's sockets, until cancelled."""
        while True:
            frames = await self._sub.recv_multipart()
            try:
                await self._deliver(frames)
            except Exception:  # one odd message never stops delivery
                log.exception("could not forward an XPUB message")

    def _event_of(self, user_id: str, frame: bytes) -> UserEvent | None:
        try:
            event = decode_frame(frame)
        except FrameError as exc:
            log.warning("user=%s undecodable XPUB frame ignored: %s", user_id, exc)
            return None
        if not isinstance(event, UserEvent) or event.user_id != user_id:
            log.warning("user=%s XPUB frame is not this user's UserEvent; ignored", user_id)
            return None
        return event

    async def _deliver(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            log.warning("XPUB message with %d frames ignored", len(frames))
            return
        topic, frame = frames
        user_id = user_of_topic(topic)
        event = self._event_of(user_id, frame) if user_id else None
        if event is None:
            return
        with event_context(event.event_id, event.user_id):
            # Kept even when the user's last socket just closed (an unsubscribe in flight):
            # that browser may be reconnecting to recover it.
            offset = await self._keep(event, frame)
            user = self._users.get(event.user_id)
            if user is None:
                return
            text = event_message(event, self._asks_for_ack(event), offset)
            user.remember(event.event_id)
            for session in user.sessions:
                session.push_live(event.event_id, text)
            log.info("user=%s forwarded to sessions=%d", event.user_id, len(user.sessions))

    async def _keep(self, event: UserEvent, frame: bytes) -> str | None:
        """The event's offset in its user's history; None when Redis did not answer (the
        event still goes out live, only a later recovery misses it)."""
        if time.monotonic() < self._history_paused_until:
            return None
        try:
            return await asyncio.to_thread(
                self._store.history.append, event.user_id, event.event_id, frame, *self._history
            )
        except StoreError as exc:
            self._history_paused_until = time.monotonic() + HISTORY_PAUSE_S
            log.warning(
                "user=%s not kept in the history (%s); none kept for %gs",
                event.user_id,
                type(exc).__name__,
                HISTORY_PAUSE_S,
            )
            return None

    async def recover(self, session: Session, since: str | None) -> None:
        """Send a socket that just opened what its user missed after `since` (the last offset
        its browser saw; None: a first connection), then the `recovery` message, then the live
        messages held meanwhile."""
        try:
            recovery = await asyncio.to_thread(self._store.history.since, session.user_id, since)
        except StoreError as exc:
            log.warning("user=%s history not read: %s", session.user_id, exc)
            recovery = None
        held, session.held = session.held or [], None
        if recovery is not None:
            user = self._users.get(session.user_id)
            for offset, frame in recovery.events:
                event = self._event_of(session.user_id, frame)
                if event is None:
                    continue
                if user is not None:
                    user.remember(event.event_id)  # so its ack counts
                session.push(event_message(event, self._asks_for_ack(event), offset, True))
                session.recovered.add(event.event_id)
            complete = recovery.complete
            top = recovery.offset
            log.info(
                "user=%s recovered=%d complete=%s", session.user_id, len(recovery.events), complete
            )
        else:
            complete, top = since is None, since
        session.push(
            recovery_message(since, len(recovery.events) if recovery else 0, complete, top)
        )
        session.recovered_at = time.monotonic()
        for event_id, text in held:
            session.push_live(event_id, text)

    # Browsers -> Redis.

    async def on_message(self, session: Session, message: str | bytes) -> None:
        """Handle one client message; never raises for bad input."""
        try:
            ack = parse_ack(message)
        except ClientMessageError as exc:
            log.warning("user=%s malformed client message ignored: %s", session.user_id, exc)
            session.push(error_message(str(exc)))
            return
        event_id = ack.event_id
        with event_context(event_id):
            user = self._users.get(session.user_id)
            if user is None or event_id not in user.sent:
                log.warning(
                    "user=%s ack for an event not sent to this user; ignored", session.user_id
                )
                session.push(error_message("unknown event", event_id))
                return
            try:
                await asyncio.to_thread(self._record_ack, session.user_id, ack)
            except StoreError as exc:
                log.error("user=%s ack not recorded: %s", session.user_id, exc)
                session.push(error_message("ack not recorded, try again", event_id))
                return
            what = "acknowledged by the person" if ack.human else "web ack recorded"
            log.info("user=%s %s", session.user_id, what)
            text = acked_message(event_id, ack.human)
            user = self._users.get(session.user_id)
            # The person's "Got it" shows on each of their open pages.
            for each in user.sessions if ack.human and user else (session,):
                each.push(text)

    def _record_ack(self, user_id: str, ack: ClientAck) -> None:
        if ack.human:
            self._store.human_acks.record(user_id, ack.event_id, "WEB")
        else:
            self._store.web_acks.record_ack(user_id, ack.event_id, self._ack_ttl_s)
