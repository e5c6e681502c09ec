"""Consumes this ingress's kombu queue (`ingress.<id>`) and the shared web queue in a thread,
handing each message's bytes (proto/relay.py) to the zmq loop over an inproc PUSH socket; only
the loop touches ROUTER/XPUB, and only the loop decodes.

A message is acked to the broker only once the loop says it is done with it (its EventAck
written to the ROUTER, or dropped for good), over a second inproc pair: an ingress that dies in
between leaves the message unacked, and the broker hands it out again.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading

import zmq
from kombu import Queue

from tasks import RECEIVED_AT_HEADER, WEB_PUBLISH_QUEUE, app, ingress_queue

__all__ = ["DONE_ENDPOINT", "RELAY_ENDPOINT", "RelayConsumer"]

log = logging.getLogger(__name__)

RELAY_ENDPOINT = "inproc://relay"
#: The loop tells the consumer here which messages it is done with.
DONE_ENDPOINT = "inproc://relay-done"
#: Relay messages handed to the loop and not yet done with, at most.
PREFETCH = 500
#: The ack queue of an ingress that is gone expires after this long unused (AMQP brokers).
QUEUE_EXPIRES_S = 24 * 3600


class RelayConsumer(threading.Thread):
    """Broker -> inproc PUSH, reconnecting on broker errors until stopped."""

    def __init__(self, context: zmq.Context, ingress_id: str) -> None:
        super().__init__(name="relay-consumer", daemon=True)
        self._context = context
        self._queues = [
            Queue(
                ingress_queue(ingress_id),
                routing_key=ingress_queue(ingress_id),
                expires=QUEUE_EXPIRES_S,
            ),
            Queue(WEB_PUBLISH_QUEUE, routing_key=WEB_PUBLISH_QUEUE),
        ]
        self._stop_event = threading.Event()
        self.ready = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        push = self._context.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(RELAY_ENDPOINT)
        done = self._context.socket(zmq.PULL)
        done.setsockopt(zmq.LINGER, 0)
        done.connect(DONE_ENDPOINT)
        try:
            while not self._stop_event.is_set():
                try:
                    self._consume(push, done)
                except Exception:
                    log.exception("relay consumer lost the broker; reconnecting in 1 s")
                    self._stop_event.wait(1.0)
        finally:
            push.close()
            done.close()

    def _consume(self, push: zmq.Socket, done: zmq.Socket) -> None:
        pending: dict[bytes, object] = {}  # tag -> kombu message, handed to the loop
        tags = itertools.count()

        def on_message(message) -> None:
            tag = str(next(tags)).encode()
            pending[tag] = message
            received_at = (message.headers or {}).get(RECEIVED_AT_HEADER, "")
            body = message.body
            if isinstance(body, str):  # py-amqp hands an empty body over as '', not b''
                body = body.encode()
            push.send_multipart([tag, body, str(received_at).encode()])

        with (
            app.connection_for_read() as connection,
            connection.Consumer(
                self._queues,
                on_message=on_message,
                accept=["application/data"],
                prefetch_count=PREFETCH,
            ),
        ):
            self.ready.set()
            while not self._stop_event.is_set():
                with contextlib.suppress(TimeoutError):
                    connection.drain_events(timeout=0.1)
                # AMQP: the heartbeats negotiated with RabbitMQ (a no-op on Redis).
                connection.heartbeat_check()
                while done.poll(0):
                    message = pending.pop(done.recv(), None)
                    if message is not None:
                        message.ack()
