"""The container-side client: send UserEvents to the ingress without blocking, and learn each
one's final EventAck; resent in the background until final, across reconnects and replicas.

    from client import NotifyClient, OrderEventPayload

    with NotifyClient(["tcp://ingress-a:5571", "tcp://ingress-b:5571"], identity=b"c-42") as client:
        fill = client.notify("u1", "ORDER_FILLED", "CRITICAL", ["TELEGRAM", "EMAIL"],
                             OrderEventPayload(symbol="BTC/USDT", side="buy", fill_quantity="0.5"))
        print(fill.result())   # DELIVERED via TELEGRAM (or ACK_ERROR and why)

`AsyncNotifyClient` does the same on asyncio. `Dealer` is the bare socket, for tools and tests
that speak the wire protocol themselves. Installable alone (`pip install ./client`: pyzmq and
protobuf only); the guide for container authors is client/README.md.
"""

from .aio import AsyncDelivery, AsyncNotifyClient
from .connection import CurveKeys, Dealer
from .engine import DROP_REASONS, FINAL_STATUSES, ClientOptions, ClientStats, connection_from_env
from .errors import ClientClosed, ClientError, ClientFull, NoFinalAck, OutboxBusy
from .events import checked_frame, give_up_after_s, make_event
from .payloads import (
    AlertEventPayload,
    BacktestEventPayload,
    OrderEventPayload,
    Payload,
    PositionEventPayload,
    StrategyEventPayload,
    WorkspaceEventPayload,
    payload_class_for,
)
from .sync import Delivery, NotifyClient

__version__ = "1.0.0"

__all__ = [
    "DROP_REASONS",
    "FINAL_STATUSES",
    "AlertEventPayload",
    "AsyncDelivery",
    "AsyncNotifyClient",
    "BacktestEventPayload",
    "ClientClosed",
    "ClientError",
    "ClientFull",
    "ClientOptions",
    "ClientStats",
    "CurveKeys",
    "Dealer",
    "Delivery",
    "NoFinalAck",
    "NotifyClient",
    "OrderEventPayload",
    "OutboxBusy",
    "Payload",
    "PositionEventPayload",
    "StrategyEventPayload",
    "WorkspaceEventPayload",
    "checked_frame",
    "connection_from_env",
    "give_up_after_s",
    "make_event",
    "payload_class_for",
]
