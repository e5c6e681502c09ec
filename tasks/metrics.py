"""Prometheus metrics of the workers, safe under the prefork pool: deliveries by channel and
outcome, provider latency per channel, and end-to-end time to the final ack; and, read at
scrape time, the broker's queue depths, events open and the due set.

The worker's main process (`worker_init`) makes a folder for `PROMETHEUS_MULTIPROC_DIR` before
any metric of ours exists, so every pool process writes its values there, and serves
them all, summed, on NOTIFY_WORKER_METRICS_PORT (default 9571; 0 turns it off). A pool process
that exits is marked dead (its gauges go; its counters stay counted). Metric objects are made
once per process, on first use: prometheus_client's registry is process-wide by design.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from typing import Any

from celery.signals import worker_init, worker_process_shutdown, worker_shutdown

from settings import Settings

__all__ = ["record_attempt", "record_final"]

log = logging.getLogger(__name__)

#: Provider round trips, seconds: a webhook in milliseconds to a provider timing out at 10 s.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
#: Receipt to final state, seconds: a fast path in milliseconds to CRITICAL rounds over hours.
END_TO_END_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 86400)

_made: dict[str, Any] = {}
_served_dir: str | None = None


def _metric(name: str) -> Any:
    if not _made:
        from prometheus_client import Counter, Histogram

        _made["deliveries"] = Counter(
            "notify_worker_attempts_total",
            "Channel attempts by outcome (delivered, transient, rate_limited, ...)",
            ["channel", "outcome"],
        )
        _made["latency"] = Histogram(
            "notify_worker_provider_seconds",
            "Time a provider took to answer one attempt",
            ["channel"],
            buckets=LATENCY_BUCKETS,
        )
        _made["final"] = Histogram(
            "notify_worker_end_to_end_seconds",
            "From the ingress's receipt to the final state, by priority and status",
            ["priority", "status"],
            buckets=END_TO_END_BUCKETS,
        )
    return _made[name]


def record_attempt(channel: str, outcome: str, latency_s: float | None) -> None:
    """One attempt's outcome, and how long its provider took when one was called."""
    _metric("deliveries").labels(channel, str(outcome)).inc()
    if latency_s is not None:
        _metric("latency").labels(channel).observe(latency_s)


def record_final(priority: str, status: str, seconds: float) -> None:
    """An event reached its final state this long after the ingress received it."""
    _metric("final").labels(priority, status).observe(max(0.0, seconds))


@worker_init.connect
def _serve(**_: object) -> None:
    """In the worker's main process, before the pool forks."""
    global _served_dir
    settings = Settings()
    port = settings.worker_metrics_port
    if not port:
        return
    address = settings.worker_metrics_host
    _served_dir = tempfile.mkdtemp(prefix="notify-worker-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _served_dir
    from prometheus_client import CollectorRegistry, start_http_server, values
    from prometheus_client.multiprocess import MultiProcessCollector

    # The `celery` command imported prometheus_client already (through Flower, its plugin), and
    # prometheus_client picks its value class at import: pick again now that the folder is set,
    # before any metric of ours exists (docs/upstream.md).
    values.ValueClass = values.get_value_class()

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    registry.register(PipelineCollector(settings))
    try:
        start_http_server(port, addr=address, registry=registry)
    except OSError as exc:
        log.warning(
            "worker metrics not served: port %s: %s (set NOTIFY_WORKER_METRICS_PORT to a free "
            "port, or 0 to turn them off)",
            port,
            exc,
        )
        return
    log.info("worker metrics on http://%s:%s/metrics", address, port)


class PipelineCollector:
    """What the pipeline holds, read when Prometheus scrapes (not per task): the broker's
    queue depths, events open per priority and the due set. Every worker reports the same
    values: take max() across instances."""

    #: A scrape within this long of the last reads the same depths (one broker round a while).
    CACHE_S = 5.0

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store = None
        self._depths: tuple[float, dict[str, int]] = (0.0, {})

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from store import Store

        from .queues import ALL_QUEUES, queue_depths

        depth = GaugeMetricFamily(
            "notify_queue_depth",
            "Messages waiting in a broker queue",
            labels=["priority", "channel"],
        )
        read_at, depths = self._depths
        if time.monotonic() - read_at > self.CACHE_S:
            try:
                depths = queue_depths(ALL_QUEUES)
                self._depths = (time.monotonic(), depths)
            except Exception as exc:  # a broker outage must not fail the scrape
                log.warning("queue depths not read: %s", type(exc).__name__)
                depths = {}
        for queue, count in depths.items():
            priority, channel = queue.split(".", 1)
            depth.add_metric([priority, channel], count)
        yield depth
        if self._store is None:
            self._store = Store(self._settings.redis_url, self._settings.key_prefix, timeout_s=1)
        try:
            counts = self._store.claims.open_counts()
            due = self._store.due.count()
        except Exception as exc:
            log.warning("store counts not read: %s", type(exc).__name__)
            return
        open_events = GaugeMetricFamily(
            "notify_open_events", "Events not yet final", labels=["priority"]
        )
        for priority, (count, _) in counts.items():
            open_events.add_metric([priority], count)
        yield open_events
        yield GaugeMetricFamily(
            "notify_due_entries", "Waiting work in the due set (parked links, rounds)", value=due
        )
        try:
            yield self._breakers()
        except Exception as exc:
            log.warning("breakers not read: %s", type(exc).__name__)

    def _breakers(self):
        from prometheus_client.core import GaugeMetricFamily

        from channels import CHANNELS

        gauge = GaugeMetricFamily(
            "notify_provider_breaker_open",
            "1 while a provider's circuit breaker is open or half-open (attempts skip it)",
            labels=["channel"],
        )
        names = [c.name for c in CHANNELS.values() if c.external]
        for breaker in self._store.breakers.states(names):
            gauge.add_metric([breaker.channel], 0 if breaker.state == "closed" else 1)
        return gauge


@worker_process_shutdown.connect
def _pool_process_gone(pid: int | None = None, **_: object) -> None:
    if _served_dir is not None:
        from prometheus_client.multiprocess import mark_process_dead

        mark_process_dead(pid or os.getpid(), _served_dir)


@worker_shutdown.connect
def _clean_up(**_: object) -> None:
    if _served_dir is not None:
        shutil.rmtree(_served_dir, ignore_errors=True)
