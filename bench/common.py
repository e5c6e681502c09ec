"""What the throughput benchmarks share: the zero-latency webhook, the baselines' worker, the
done list they signal on, percentiles and the table. Each benchmark is one command and prints
its figures beside a baseline measured in the same run."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers import free_port  # noqa: E402

__all__ = [
    "ROOT",
    "UNLIMITED",
    "forwarder",
    "Sink",
    "baseline_worker",
    "group_cpu_s",
    "percentile",
    "table",
]

#: Rate limits lifted, so that a burst measures the path, not the token buckets.
UNLIMITED = {
    "NOTIFY_RATE_PER_KEY": "1000000",
    "NOTIFY_BURST_PER_KEY": "1000000",
    "NOTIFY_RATE_PER_USER": "1000000",
    "NOTIFY_BURST_PER_USER": "1000000",
    "NOTIFY_MAX_LIVE_PER_USER": "1000000",
}


class Sink:
    """bench/sink.py in a process of its own: http://127.0.0.1:port answers 204 to any POST."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "sink.py"), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import httpx

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.post(self.url, content=b"x", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the webhook sink did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@contextmanager
def forwarder(root: Path) -> Iterator[tuple[str, str, int]]:
    """bench/forwarder.py in a process of its own, ready: (ROUTER address, XPUB address, pid)."""
    from tests.faults.stack import Stack
    from tests.helpers import wait_for_line

    router, xpub = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    log = root / "forwarder.log"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "forwarder.py"), router, xpub],
        stdout=open(log, "wb"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_line(log, "forwarder ready", process, 30)
        yield router, xpub, process.pid
    finally:
        Stack.kill(process)


def baseline_worker(broker_url: str, concurrency: int, pool: str, log: Path) -> subprocess.Popen:
    """A worker of bench/baseline_tasks.py, returned once ready."""
    from tests.helpers import wait_for_line

    env = {**os.environ, "BENCH_BROKER_URL": broker_url, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.baseline_tasks",
            "worker",
            "--loglevel=INFO",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"bench-{free_port()}@%h",
        ],  # fmt: skip
        cwd=ROOT,
        env=env,
        stdout=open(log, "wb"),  # noqa: SIM115 (closed with the process)
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    wait_for_line(log, "ready.", process, 60)
    return process


def group_cpu_s(*pgids: int) -> float:
    """User + system CPU seconds of every live process in these process groups (a worker and
    its pool children), read from /proc. Steadier than wall time on a shared machine."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:  # pgrp
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    return "\n".join([title, line(header), line(["-" * w for w in widths]), *map(line, rows)])
