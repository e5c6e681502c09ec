"""The baselines' Celery app, on the benchmark's Redis (`BENCH_BROKER_URL`), with the same
reliability flags as ours (acks late, prefetch 1, JSON): `celery -A bench.baseline_tasks worker`.
Bare Celery and redis-py on purpose: the one place in the project, beside store/, that talks
to Redis itself (tests/test_walls.py).

  noop         a link that does nothing (the bare 2-link chain: noop, then done)
  done         the chain's last link: tells the benchmark (RPUSH event id + time to `bench:done`)
  apprise_post what a Python team would build instead: one task that posts the notification
               with Apprise to a JSON webhook, then tells the benchmark; no acks, no escalation
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery
from kombu import pools

app = Celery("bench")
app.conf.update(
    broker_url=os.environ["BENCH_BROKER_URL"],
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_default_queue="bench",
    broker_transport_options={"visibility_timeout": 25},
)
_redis: redis.Redis | None = None
#: The list the baseline tasks RPUSH "event_id time" to.
DONE = "bench:done"


def _client() -> redis.Redis:
    global _redis
    if _redis is None:
        _redis = redis.Redis.from_url(os.environ["BENCH_BROKER_URL"])
    return _redis


def use_broker(url: str) -> None:
    """Point the app (and the done list) at another Redis: each measurement has its own."""
    global _redis
    os.environ["BENCH_BROKER_URL"] = url
    if url == app.conf.broker_url:
        return
    _redis = None
    app.conf.broker_url = url
    # Connections and producers of the old Redis, in the app and in kombu's global pools.
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


def _tell(event_id: str) -> None:
    _client().rpush(DONE, f"{event_id} {time.time()}")


def clear_done() -> None:
    _client().delete(DONE)


def done_times(count: int, timeout_s: float) -> dict[str, float]:
    """event id -> unix time it was done, once `count` are (or at the timeout)."""
    done: dict[str, float] = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < count and time.monotonic() < deadline:
        item = _client().blpop(DONE, timeout=1)
        if item is None:
            continue
        event_id, at = item[1].decode().split()
        done[event_id] = float(at)
    return done


@app.task(name="bench.noop")
def noop(event_id: str) -> str:
    return event_id


@app.task(name="bench.done")
def done(event_id: str) -> None:
    _tell(event_id)


_apprise = None


@app.task(name="bench.apprise_post")
def apprise_post(event_id: str, url: str, title: str, body: str) -> None:
    global _apprise
    if _apprise is None:
        import apprise

        _apprise = apprise.Apprise()
        _apprise.add(url)
    _apprise.notify(title=title, body=body)
    _tell(event_id)
