"""Benchmark: the ingress's Redis work for a burst, done as one pipeline per drained batch versus
one round trip per event (the baseline, measured in the same run).

    python bench/ingress_batch.py [--events 2000] [--batch 200]

Uses the Redis at NOTIFY_REDIS_URL when it answers, else starts an embedded one. Writes only keys
under a fresh prefix and deletes them afterwards. Prints events/s for both and their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from client import make_event  # noqa: E402
from ingress import EventRouter, Inbound  # noqa: E402
from proto import encode_event  # noqa: E402
from settings import Settings  # noqa: E402
from store import Store, redis_answers, start_embedded_redis  # noqa: E402


def frames(count: int, tag: str) -> list[Inbound]:
    return [
        Inbound(
            b"bench-container",
            encode_event(
                make_event(
                    f"user-{i % 50}",
                    "ORDER_FILLED",
                    "CRITICAL",
                    [("DISCORD", False)],
                    {"symbol": "BTC/USDT"},
                    event_id=f"{tag}-{i}",
                )
            ),
        )
        for i in range(count)
    ]


def run(router: EventRouter, inbound: list[Inbound], batch: int) -> float:
    """Events per second, handling `inbound` in slices of `batch` frames."""
    started = time.perf_counter()
    for start in range(0, len(inbound), batch):
        router.handle(inbound[start : start + batch], has_subscriber=lambda _user: False)
    return len(inbound) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()

    url = os.environ.get("NOTIFY_REDIS_URL", "redis://127.0.0.1:6379/0")
    embedded = None
    if not redis_answers(url):
        url = "redis://127.0.0.1:16379/0"
        embedded = start_embedded_redis(
            url, tempfile.mkdtemp(prefix="bench-redis-"), persistent=False
        )
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    settings = Settings(redis_url=url, key_prefix=prefix, ingress_id="bench")
    store = Store(url, prefix)
    # Enqueueing is the broker's cost, the same in both runs: count it out, keep the claim work.
    router = EventRouter(settings, store, enqueue=lambda *_: "{}")
    try:
        run(router, frames(200, "warmup"), args.batch)
        baseline = run(router, frames(args.events, "single"), batch=1)
        batched = run(router, frames(args.events, "batched"), batch=args.batch)
        print(f"events={args.events} redis={url}")
        print(f"one round trip per event (baseline): {baseline:10.0f} events/s")
        print(f"one pipeline per batch of {args.batch:<4}     : {batched:10.0f} events/s")
        print(f"ratio batched/baseline              : {batched / baseline:10.2f}x")
    finally:
        store.forget_everything()
        if embedded is not None:
            embedded.terminate()


if __name__ == "__main__":
    main()
