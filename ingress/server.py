"""The ingress process: binds ROUTER and XPUB, runs the zmq loop, mirrors presence, relays acks.

Sockets (docs/protocol.md, "Two sockets"): ROUTER with ROUTER_HANDOVER (a reconnecting
container takes over its half-open predecessor) and ROUTER_MANDATORY with non-blocking sends
(an ack to a departed container is counted and dropped); ZMQ heartbeats on ROUTER and XPUB.
With a server key both are CURVE servers behind a ZAP handler (ingress/auth.py); without one
they listen on loopback only (protected mode, settings.guard_bind).

Memory has a ceiling (docs/security.md): ZMQ_MAXMSGSIZE just above NOTIFY_MAX_FRAME_BYTES (a
larger frame disconnects its peer), RCVHWM frames queued per peer, and a batch of at most
NOTIFY_INGRESS_BATCH frames and BATCH_BYTES bytes.
"""

from __future__ import annotations

import logging
import signal
import time

import zmq
from prometheus_client import start_http_server

from logsetup import event_context
from proto import (
    AckRelay,
    AckStatus,
    FrameError,
    RelayError,
    decode_frame,
    decode_relay,
    topic_for,
    user_of_topic,
)
from settings import Settings, guard_bind, zmq_host
from store import PRESENCE_TTL_S, Store

from . import metrics
from .auth import ROUTER_DOMAIN, XPUB_DOMAIN, Gate
from .relay import DONE_ENDPOINT, RELAY_ENDPOINT, RelayConsumer
from .routing import EventRouter, Inbound

__all__ = ["Ingress"]

log = logging.getLogger(__name__)

HEARTBEAT_IVL_MS = 5_000
HEARTBEAT_TIMEOUT_MS = 15_000
#: ZMQ_MAXMSGSIZE = the frame limit + this: a frame over the limit by less still gets its
#: ACK_ERROR naming the limit; a larger one disconnects its peer (no id can be read from it).
HARD_CAP_SLACK = 4096
#: Frames queued per ROUTER peer (and messages per XPUB peer) before ZMQ stops reading it.
RCVHWM = 100
#: Most bytes drained from the ROUTER into one batch.
BATCH_BYTES = 16 * 1024 * 1024
POLL_MS = 200
# Plain ints: pyzmq's *_multipart do enum arithmetic per frame, a visible cost at 50k frames/s.
_SNDMORE = int(zmq.SNDMORE)
_NOBLOCK = int(zmq.NOBLOCK)
_RCVMORE = int(zmq.RCVMORE)
#: Every Redis command of the ingress gives up after this long (the loop must keep serving).
STORE_TIMEOUT_S = 1.0


def _recv_message(sock: zmq.Socket, copy: bool) -> list:
    """`recv_multipart(zmq.NOBLOCK)`, with int flags (the rest of a message is already here)."""
    parts = [sock.recv(_NOBLOCK, copy=copy)]
    while sock.getsockopt(_RCVMORE):
        parts.append(sock.recv(copy=copy))
    return parts


def _acked_event_id(frame: bytes) -> str:
    """The event id an ack frame is about, for the log line's context ("-" if unreadable)."""
    try:
        ack = decode_frame(frame)
    except FrameError:
        return "-"
    return getattr(ack, "event_id", "") or "-"


class Ingress:
    """One ingress replica. `run()` blocks until `stop()` (or SIGTERM/SIGINT)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.redis_url, settings.key_prefix, timeout_s=STORE_TIMEOUT_S)
        self.gate = Gate(self.store, settings.curve_secret)
        self.events = EventRouter(settings, self.store, grant_of=self.gate.grant)
        self.present: set[str] = set()
        #: Distinct XPUB topics subscribed now (presence and taps alike), capped.
        self.topics: set[bytes] = set()
        self._running = True
        self.router_address = self._guarded(settings.ingress_router, "NOTIFY_INGRESS_ROUTER")
        self.xpub_address = self._guarded(settings.ingress_xpub, "NOTIFY_INGRESS_XPUB")

    def _guarded(self, address: str, name: str) -> str:
        """The address to bind in protected mode (ExposureError when it must not)."""
        host = zmq_host(address)
        allowed = guard_bind(
            host,
            self.gate.secured,
            self.settings.insecure,
            f"ingress ({name}={address})",
            "set NOTIFY_CURVE_SERVER_SECRET (`notify keys server`)",
        )
        return address if allowed == host else address.replace(f"//{host}:", f"//{allowed}:", 1)

    def stop(self, *_: object) -> None:
        self._running = False

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def _bind_peers(self, context: zmq.Context) -> tuple[zmq.Socket, zmq.Socket]:
        """ROUTER and XPUB, bound (retrying briefly: a rebind follows a close)."""
        router = context.socket(zmq.ROUTER)
        router.setsockopt(zmq.ROUTER_HANDOVER, 1)
        router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        router.setsockopt(zmq.MAXMSGSIZE, self.settings.max_frame_bytes + HARD_CAP_SLACK)
        xpub = context.socket(zmq.XPUB)
        xpub.setsockopt(zmq.MAXMSGSIZE, 64 * 1024)  # subscriptions are topics: small
        for sock, domain in ((router, ROUTER_DOMAIN), (xpub, XPUB_DOMAIN)):
            sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
            sock.setsockopt(zmq.LINGER, 1000)
            sock.setsockopt(zmq.RCVHWM, RCVHWM)
            self.gate.secure(sock, domain)
        for sock, address in ((router, self.router_address), (xpub, self.xpub_address)):
            for attempt in range(50):
                try:
                    sock.bind(address)
                    break
                except zmq.ZMQError:
                    if attempt == 49:
                        raise
                    time.sleep(0.05)
        return router, xpub

    def _bind_relay(self, context: zmq.Context) -> zmq.Socket:
        relay = context.socket(zmq.PULL)
        relay.setsockopt(zmq.LINGER, 0)
        relay.bind(RELAY_ENDPOINT)
        self._relay_done = context.socket(zmq.PUSH)
        self._relay_done.setsockopt(zmq.LINGER, 0)
        self._relay_done.bind(DONE_ENDPOINT)
        return relay

    def run(self) -> None:
        if self.settings.insecure and not self.gate.secured:
            log.warning("NOTIFY_INSECURE=1: listening without authentication (docs/security.md)")
        if self.settings.metrics_port:
            metrics_host = guard_bind(
                "*", self.gate.secured, self.settings.insecure, "metrics", "set a server key"
            )
            start_http_server(
                self.settings.metrics_port, addr="0.0.0.0" if metrics_host == "*" else metrics_host
            )
        for problem in self.store.durability_problems():
            log.warning(
                "ingress: store Redis %s (docs/reliability.md, production settings)", problem
            )
        self.store.presence.reset(self.settings.ingress_id)
        context = zmq.Context()
        self.gate.start(context)
        router, xpub = self._bind_peers(context)
        relay = self._bind_relay(context)
        consumer = RelayConsumer(context, self.settings.ingress_id)
        consumer.start()
        consumer.ready.wait(10)
        poller = zmq.Poller()
        for sock in (router, xpub, relay):
            poller.register(sock, zmq.POLLIN)
        log.info(
            "ingress %s ready: ROUTER %s XPUB %s (%s)",
            self.settings.ingress_id,
            self.router_address,
            self.xpub_address,
            "CURVE" if self.gate.secured else "no authentication: loopback unless NOTIFY_INSECURE",
        )
        next_refresh = 0.0
        try:
            while self._running:
                ready = dict(poller.poll(POLL_MS))
                if xpub in ready:
                    self._on_subscriptions(xpub)
                if router in ready:
                    self._on_frames(router, xpub)
                if relay in ready:
                    self._on_relay(relay, router, xpub)
                if self.gate.refresh():
                    # A key was revoked: every peer handshakes again, the revoked one is refused.
                    log.warning("a client key was revoked: rebinding ROUTER and XPUB")
                    for sock in (router, xpub):
                        poller.unregister(sock)
                        sock.close(linger=0)
                    self.present.clear()
                    self.topics.clear()
                    router, xpub = self._bind_peers(context)
                    poller.register(router, zmq.POLLIN)
                    poller.register(xpub, zmq.POLLIN)
                    next_refresh = 0.0
                if time.monotonic() >= next_refresh:
                    self._mirror_presence()
                    next_refresh = time.monotonic() + PRESENCE_TTL_S / 3
        finally:
            consumer.stop()
            consumer.join(5)
            self.gate.stop()
            self._clear_presence()
            for sock in (router, xpub, relay, self._relay_done):
                sock.close()
            context.term()
            log.info("ingress %s stopped cleanly: sockets closed", self.settings.ingress_id)

    def _mirror_presence(self) -> None:
        """Rewrite this replica's presence set in Redis; a Redis outage is logged, not fatal."""
        try:
            self.store.presence.refresh(self.settings.ingress_id, self.present)
        except Exception as exc:
            log.warning("presence not mirrored to Redis: %s", exc)

    def _clear_presence(self) -> None:
        """Presence of this replica goes with it (it would expire anyway if Redis is gone)."""
        try:
            self.store.presence.refresh(self.settings.ingress_id, set())
        except Exception as exc:
            log.warning("presence not cleared (%s); it expires in %ss", exc, PRESENCE_TTL_S)

    def _on_subscriptions(self, xpub: zmq.Socket) -> None:
        """Drain XPUB (un)subscriptions, then mirror the changed flags in one Redis pipeline.

        Only a message whose first byte is 1 (subscribe) or 0 (unsubscribe) is one; anything
        else a peer sends upstream is ignored. At most NOTIFY_MAX_TOPICS topics count.
        """
        changes: dict[str, bool] = {}
        while True:
            try:
                message = xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            if not message or message[0] not in (0, 1):
                metrics.SUBSCRIPTIONS.labels("ignored").inc()
                continue
            subscribed, topic = message[0] == 1, message[1:]
            if subscribed and topic not in self.topics:
                if len(self.topics) >= self.settings.max_topics:
                    metrics.SUBSCRIPTIONS.labels("over_cap").inc()
                    log.warning(
                        "XPUB topic ignored: NOTIFY_MAX_TOPICS=%d reached", len(self.topics)
                    )
                    continue
                self.topics.add(topic)
            elif not subscribed:
                self.topics.discard(topic)
            metrics.SUBSCRIPTIONS.labels("subscribe" if subscribed else "unsubscribe").inc()
            user_id = user_of_topic(topic)
            if user_id is None:
                continue  # a tap on another prefix (a subscriber key's) is not presence
            if subscribed:
                self.present.add(user_id)
            else:
                self.present.discard(user_id)
            changes[user_id] = subscribed
            log.info("presence user=%s live=%s", user_id, subscribed)
        metrics.PRESENCE.set(len(self.present))
        if not changes:
            return
        try:
            self.store.presence.apply(self.settings.ingress_id, changes)
        except Exception as exc:  # the periodic refresh repairs it once Redis is back
            log.warning("presence of %d users not mirrored to Redis: %s", len(changes), exc)

    def _on_frames(self, router: zmq.Socket, xpub: zmq.Socket) -> None:
        batch: list[Inbound] = []
        size = 0
        secured = self.gate.secured
        while len(batch) < self.settings.ingress_batch and size < BATCH_BYTES:
            try:
                parts = _recv_message(router, copy=not secured)
            except zmq.Again:
                break
            if len(parts) != 2:
                metrics.FRAMES_REJECTED.labels("Multipart", "no").inc()
                log.warning(
                    "rejected message of %d frames from %s", len(parts) - 1, bytes(parts[0]).hex()
                )
                continue
            if secured:  # the peer's key, from the CURVE handshake (ZMQ's User-Id metadata)
                inbound = Inbound(parts[0].bytes, parts[1].bytes, parts[1].get("User-Id"))
            else:
                inbound = Inbound(parts[0], parts[1])
            size += len(inbound.frame)
            batch.append(inbound)
        if not batch:
            return
        try:
            result = self.events.handle(batch, self.present.__contains__)
        except Exception:
            # Redis down or a bug: nothing was acked, so the containers resend.
            log.exception("batch of %d frames failed; no acks sent", len(batch))
            return
        self._publish(xpub, result.publishes, "ingress")
        for routing_id, frame in result.acks:
            self._send_ack(router, routing_id, frame)

    def _on_relay(self, relay: zmq.Socket, router: zmq.Socket, xpub: zmq.Socket) -> None:
        while True:
            try:
                tag, raw, received_at = relay.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self._relay_one(raw, router, xpub, received_at)
            # Written (or dropped for good): now the consumer may ack it to the broker.
            self._relay_done.send(tag)

    def _relay_one(
        self, raw: bytes, router: zmq.Socket, xpub: zmq.Socket, received_at: bytes = b""
    ) -> None:
        try:
            message = decode_relay(raw)
        except RelayError as exc:
            metrics.RELAY_DROPPED.labels("malformed").inc()
            log.error("malformed relay message dropped (%s): %r", exc, raw[:200])
            return
        if isinstance(message, AckRelay):
            if self._send_ack(router, message.routing_id, message.frame) and received_at:
                self._observe_end_to_end(message.frame, received_at)
        elif time.time() - message.sent_at > self.settings.web_ack_timeout_s:
            # The WEB attempt stopped waiting for it long ago: a late copy would only confuse.
            metrics.RELAY_DROPPED.labels("stale").inc()
        else:
            self._publish(xpub, [(topic_for(message.user_id), message.frame)], "worker")

    @staticmethod
    def _observe_end_to_end(frame: bytes, received_at: bytes) -> None:
        """Receipt to final ack written, for the histogram; a bad header is no reason to stop."""
        try:
            status = AckStatus.Name(decode_frame(frame).status)
            metrics.END_TO_END.labels(status).observe(time.time() - float(received_at))
        except (ValueError, FrameError):
            log.warning("relay message with an unreadable receipt time %r", received_at[:40])

    def _publish(self, xpub: zmq.Socket, publishes: list[tuple[bytes, bytes]], source: str) -> None:
        for topic, frame in publishes:
            xpub.send(topic, _SNDMORE)
            xpub.send(frame)
        metrics.PUBLISHED.labels(source).inc(len(publishes))

    def _send_ack(self, router: zmq.Socket, routing_id: bytes, frame: bytes) -> bool:
        """Write one ack to its container; False when it is not connected (dropped, counted)."""
        try:
            router.send_multipart([routing_id, frame], zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # EHOSTUNREACH: not connected (any more); EAGAIN: HWM
            metrics.ACKS_DROPPED.inc()
            with event_context(_acked_event_id(frame)):
                log.info("ack for %s dropped: %s", routing_id.hex(), exc.strerror)
            return False
        metrics.ACKS_SENT.inc()
        return True
