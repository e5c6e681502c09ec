"""Consumes this ingress's kombu queue (`ingress.<id>`) and the shared web queue in a thread,
handing each message's bytes (proto/relay.py) to the zmq loop over an inproc PUSH socket; only
the loop touches ROUTER/XPUB, and only the loop decodes."""

from __future__ import annotations

import logging
import threading

import zmq
from kombu import Queue

from tasks import WEB_PUBLISH_QUEUE, app, ingress_queue

__all__ = ["RELAY_ENDPOINT", "RelayConsumer"]

log = logging.getLogger(__name__)

RELAY_ENDPOINT = "inproc://relay"
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

        def on_message(message) -> None:
            push.send(message.body)
            message.ack()

        try:
            while not self._stop_event.is_set():
                try:
                    self._consume(on_message)
                except Exception:
                    log.exception("relay consumer lost the broker; reconnecting in 1 s")
                    self._stop_event.wait(1.0)
        finally:
            push.close()

    def _consume(self, on_message) -> None:
        with (
            app.connection_for_read() as connection,
            connection.Consumer(self._queues, on_message=on_message, accept=["application/data"]),
        ):
            self.ready.set()
            while not self._stop_event.is_set():
                try:
                    connection.drain_events(timeout=0.5)
                except TimeoutError:
                    continue
