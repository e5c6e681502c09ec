"""Messages from the workers to the ingresses, over kombu (DESIGN.md, "Sockets and the ack relay").

Acks go to the queue of the ingress that holds the container's connection, `ingress.<id>`;
WEB publishes go to the shared `ingress.web` queue. Both are published through the default
exchange (routing key = queue name) with the app's producer pool. Bodies are JSON dicts:
  {"kind": "ack", "routing_id": <hex>, "frame": <base64 0x21 frame>}
  {"kind": "publish", "user_id": <id>, "frame": <base64 0x20 frame>, "sent_at": <unix time>}
An ingress drops a publish older than NOTIFY_WEB_ACK_TIMEOUT_S (its WEB attempt gave up on it).
"""

from __future__ import annotations

import base64
import time
from typing import Any

from proto import AckStatus, ChannelType, EventAck, encode_ack

from .app import app
from .queues import WEB_PUBLISH_QUEUE, ingress_queue

__all__ = ["ack_message", "publish_to_ingress", "publish_web", "send_ack"]

#: A relay message nobody consumed in this long is dropped by brokers that support expiry.
MESSAGE_TTL_S = 24 * 3600


def ack_message(routing_id_hex: str, ack: EventAck) -> dict[str, Any]:
    return {
        "kind": "ack",
        "routing_id": routing_id_hex,
        "frame": base64.b64encode(encode_ack(ack)).decode(),
    }


def publish_to_ingress(queue: str, body: dict[str, Any]) -> None:
    """Publish one relay message, retrying briefly on a broker hiccup."""
    with app.producer_or_acquire() as producer:
        producer.publish(
            body,
            exchange="",
            routing_key=queue,
            serializer="json",
            retry=True,
            retry_policy={"max_retries": 5, "interval_start": 0, "interval_step": 0.5},
            expiration=MESSAGE_TTL_S,
        )


def send_ack(
    ingress_id: str,
    routing_id_hex: str,
    event_id: str,
    status: str,
    delivered_via: str = "",
    error: str = "",
) -> None:
    """Send a final EventAck towards the container, through its ingress."""
    ack = EventAck(event_id=event_id, status=AckStatus.Value(status), error_message=error)
    if delivered_via:
        ack.delivered_via = ChannelType.Value(delivered_via)
    publish_to_ingress(ingress_queue(ingress_id), ack_message(routing_id_hex, ack))


def publish_web(user_id: str, frame: bytes) -> None:
    """Ask the ingresses to publish a 0x20 frame on the user's XPUB topic."""
    publish_to_ingress(
        WEB_PUBLISH_QUEUE,
        {
            "kind": "publish",
            "user_id": user_id,
            "frame": base64.b64encode(frame).decode(),
            "sent_at": time.time(),
        },
    )
