"""Celery's chain drops the `producer` it is given (docs/upstream.md): the first link goes out on
a pooled producer, so it ignores the caller's publish batch (and connection, and timeouts).
`tasks.apply_chain` hands the producer to the first link itself. On the run's Redis, with a
Celery app and queue of the test's own; nothing is consumed."""

from __future__ import annotations

import uuid

import pytest
import redis
from celery import Celery, chain
from kombu import Exchange, Queue

from tasks import ChainProducer, apply_chain


@pytest.fixture
def bench_app(redis_url: str):
    name = f"chain-producer-{uuid.uuid4().hex[:8]}"
    app = Celery(name, broker=redis_url)
    app.conf.task_queues = [Queue(name, Exchange(""), routing_key=name)]
    app.conf.task_default_queue = name
    client = redis.Redis.from_url(redis_url)
    yield app, name, client
    client.delete(name)
    app.close()


def _two_links(app: Celery):
    return chain(app.signature("t.first", args=(1,)), app.signature("t.second"))


def _queued_inside_a_batch(app: Celery, queue: str, client, publish) -> tuple[int, int]:
    """(messages on the queue while the batch is open, after it is flushed)."""
    with app.connection_for_write() as connection:
        producer = ChainProducer(connection, auto_declare=False)
        with producer.batch(max_size=100):
            publish(producer)
            inside = client.llen(queue)
        return inside, client.llen(queue)


def test_plain_celery_chain_ignores_the_producer_it_is_given(bench_app) -> None:
    app, queue, client = bench_app
    inside, after = _queued_inside_a_batch(
        app, queue, client, lambda p: _two_links(app).apply_async(producer=p)
    )
    # Published at once on another producer: the batch never saw it. When this fails, Celery
    # passes the producer on, and `apply_chain` can go.
    assert (inside, after) == (1, 1)


def test_apply_chain_publishes_through_the_producer(bench_app) -> None:
    app, queue, client = bench_app
    inside, after = _queued_inside_a_batch(
        app, queue, client, lambda p: apply_chain(_two_links(app), p)
    )
    assert (inside, after) == (0, 1), "held by the batch, then flushed with it"
