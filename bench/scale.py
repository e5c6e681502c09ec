"""Scale on this box: guaranteed-path throughput (bench/guaranteed.py's saturation phase, no
latency phase) with 1, 2 and 4 worker processes in the prefork, threads and solo pools, each
beside the bare 2-link chain on the same pool, in the same run.

    python bench/scale.py                      # 500 events per measurement
    python bench/scale.py --events 1000 --sizes 1 2 --pools prefork threads

  prefork N   one worker, --concurrency N (N pool processes)
  threads N   one worker, --concurrency N (N threads in one process)
  solo N      N workers of --pool solo (N processes, one task at a time each)
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import UNLIMITED, Sink, table  # noqa: E402
from bench.guaranteed import _celery_phase, _ours_phase  # noqa: E402
from sandbox import SandboxServer  # noqa: E402
from tests.faults.stack import Stack  # noqa: E402


def _one(pool: str, size: int, count: int, sink: Sink, sandbox_url: str, root: Path):
    workers, concurrency = (size, 1) if pool == "solo" else (1, size)
    args = SimpleNamespace(pool=pool, concurrency=concurrency, workers=workers, latency_s=0)
    here = root / f"{pool}{size}"
    here.mkdir()
    stack = Stack(here, sandbox_url, {"NOTIFY_METRICS_PORT": "0", **UNLIMITED})
    try:
        stack.start_redis()
        base = _celery_phase("baseline", stack.redis_url, sink, count, workers, args, here)
        ours = _ours_phase(stack, sink, count, args)
    finally:
        stack.close()
    return base[0], ours[0], ours[3]


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--pools", nargs="+", default=["prefork", "threads", "solo"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="notify-scale-"))
    rows = []
    sink = Sink()
    try:
        with SandboxServer(port=0) as sandbox:
            for pool in args.pools:
                for size in args.sizes:
                    base, ours, cpu = _one(pool, size, args.events, sink, sandbox.url, root)
                    print(f"{pool} {size}: baseline {base:.0f}/s, ours {ours:.0f}/s", flush=True)
                    rows.append([pool, str(size), f"{base:.0f}", f"{ours:.0f}",
                                 f"{ours / base:.2f}x", f"{cpu:.0f}"])  # fmt: skip
    finally:
        sink.close()
    print()
    print(table(
        f"scale: guaranteed path, {args.events} CRITICAL events per measurement, 2 cores; logs in {root}",
        ["pool", "processes/threads", "baseline events/s", "ours events/s", "ours/baseline", "ours worker CPU us/event"],
        rows,
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
