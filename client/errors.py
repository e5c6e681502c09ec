"""Every error the client raises of its own, under one base class.

ClientError
 ├── ClientFull     `max_in_flight` events are open and the client was told not to block
 ├── NoFinalAck     an event's deadline (or TTL) and a grace minute passed without a final ack
 ├── ClientClosed   the client was closed before the event had a final ack
 └── OutboxBusy     another client holds the outbox file (client/outbox.py)

A bad event is refused with `proto.InvalidEvent` (field and problem), as the ingress would.
"""

from __future__ import annotations

__all__ = ["ClientClosed", "ClientError", "ClientFull", "NoFinalAck", "OutboxBusy"]


class ClientError(Exception):
    """Base class of the client's own errors."""


class ClientFull(ClientError):
    """No room for another event: `max_in_flight` are waiting for their final ack."""


class NoFinalAck(ClientError):
    """The client stopped resending: no final ack came before the event's deadline or TTL."""


class ClientClosed(ClientError):
    """The client was closed (or is closing) before this event had a final ack."""


class OutboxBusy(ClientError):
    """Another client (in this process or another) holds the outbox file."""
