"""A container program for the restart test: `send` sends CRITICAL events with a durable outbox,
says "sent" and waits to be killed; `recover` opens the same outbox, waits for every event it
resent to be final, and prints {event_id: "STATUS via CHANNEL"} as JSON.

    python tests/client/container.py ROUTER IDENTITY OUTBOX send USER PREFIX COUNT
    python tests/client/container.py ROUTER IDENTITY OUTBOX recover
"""

from __future__ import annotations

import json
import sys
import time

from client import NotifyClient, OrderEventPayload
from proto import AckStatus, ChannelType


def main(router: str, identity: str, outbox: str, mode: str, *rest: str) -> None:
    client = NotifyClient(router, identity=identity.encode(), outbox=outbox)
    if mode == "send":
        user, prefix, count = rest
        payload = OrderEventPayload(symbol="BTC/USDT", side="buy", fill_quantity="1")
        for n in range(int(count)):
            client.notify(user, "ORDER_FILLED", "CRITICAL", ["DISCORD"], payload,
                          event_id=f"{prefix}-{n}")  # fmt: skip
        print("sent", flush=True)
        time.sleep(3600)  # until killed
        return
    outcome = {}
    for delivery in client.recovered:
        ack = delivery.result(60)
        via = ChannelType.Name(ack.delivered_via) if ack.status == AckStatus.DELIVERED else "-"
        outcome[delivery.event_id] = f"{AckStatus.Name(ack.status)} via {via}"
    client.close()
    print(json.dumps(outcome), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
