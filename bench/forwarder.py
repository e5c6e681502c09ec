"""The fast path's baseline: a bare pyzmq ROUTER -> XPUB forwarder that parses each UserEvent and
publishes `[user_id\\x00, frame]`. No validation, no presence, no Redis, no metrics.

    python bench/forwarder.py tcp://127.0.0.1:5571 tcp://127.0.0.1:5570
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import zmq  # noqa: E402

from proto import UserEvent  # noqa: E402


def main() -> int:
    router_address, xpub_address = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.bind(router_address)
    xpub = context.socket(zmq.XPUB)
    xpub.bind(xpub_address)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    poller.register(xpub, zmq.POLLIN)
    print("forwarder ready", flush=True)
    try:
        while True:
            ready = dict(poller.poll(200))
            if xpub in ready:
                while True:  # subscriptions: read and forget
                    try:
                        xpub.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
            if router in ready:
                while True:
                    try:
                        _, frame = router.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    event = UserEvent.FromString(frame[1:])
                    xpub.send_multipart([event.user_id.encode() + b"\0", frame])
    except KeyboardInterrupt:
        pass
    finally:
        context.destroy(linger=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
