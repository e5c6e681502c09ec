"""Sends the relay messages (proto/relay.py) from the workers to the ingresses over kombu
(docs/protocol.md, "The relay").

Acks go to the queue of the ingress that holds the container's connection, `ingress.<id>`;
WEB publishes go to the shared `ingress.web` queue. Both are published through the default
exchange (routing key = queue name) with the app's producer pool, as raw bytes.
"""

from __future__ import annotations

import time

from proto import AckRelay, AckStatus, ChannelType, PublishRelay, ack_frame, encode_relay

from .app import app
from .queues import WEB_PUBLISH_QUEUE, ingress_queue

__all__ = ["RECEIVED_AT_HEADER", "publish_web", "send_ack"]

#: A relay message nobody consumed in this long is dropped by brokers that support expiry.
MESSAGE_TTL_S = 24 * 3600


#: The message header that carries when the ingress received the event (unix s, as text): an
#: ingress of this release observes its end-to-end latency; one of an earlier release ignores
#: it (the body's format is unchanged).
RECEIVED_AT_HEADER = "notify-received-at"


def _publish(queue: str, body: bytes, headers: dict[str, str] | None = None) -> None:
    """Publish one relay message, retrying briefly on a broker hiccup."""
    with app.producer_or_acquire() as producer:
        producer.publish(
            body,
            exchange="",
            routing_key=queue,
            content_type="application/data",
            content_encoding="binary",
            retry=True,
            retry_policy={"max_retries": 5, "interval_start": 0, "interval_step": 0.5},
            expiration=MESSAGE_TTL_S,
            headers=headers,
        )


def send_ack(
    ingress_id: str,
    routing_id: bytes,
    event_id: str,
    status: AckStatus,
    delivered_via: ChannelType | None = None,
    error: str = "",
    received_at: float | None = None,
) -> None:
    """Send a final EventAck towards the container, through its ingress (with the event's
    receipt time, for the ingress's end-to-end latency)."""
    frame = ack_frame(event_id, status, delivered_via, error)
    headers = {RECEIVED_AT_HEADER: repr(received_at)} if received_at is not None else None
    _publish(ingress_queue(ingress_id), encode_relay(AckRelay(routing_id, frame)), headers)


def publish_web(user_id: str, frame: bytes) -> None:
    """Ask the ingresses to publish a 0x20 frame on the user's XPUB topic."""
    _publish(WEB_PUBLISH_QUEUE, encode_relay(PublishRelay(user_id, frame, time.time())))
