"""The task queues sit on an exchange of our own, on either broker, and a RabbitMQ publish
waits for the broker's confirm."""

from __future__ import annotations

import subprocess

import pytest

from tasks.queues import ALL_QUEUES, TASK_EXCHANGE

pytestmark = pytest.mark.broker


def _bindings(broker_url: str) -> set[tuple[str, str, str]]:
    """(exchange, queue, routing key) of every binding the broker holds for our queues."""
    from tasks import app

    if broker_url.startswith("amqp"):
        vhost = broker_url.rsplit("/", 1)[-1] or "/"
        listed = subprocess.run(
            ["rabbitmqctl", "--quiet", "list_bindings", "-p", vhost, "source_name",
             "destination_name", "routing_key"],
            capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
        rows = [line.split("\t") for line in listed.splitlines() if line.count("\t") == 2]
        return {(source, queue, key) for source, queue, key in rows if queue in ALL_QUEUES}
    with app.connection_for_read() as connection:
        channel = connection.default_channel
        found = set()
        for exchange in (TASK_EXCHANGE, "normal.control"):
            for key, _, queue in channel.get_table(exchange):
                found.add((exchange, queue, key))
        return found


def test_every_task_queue_is_bound_to_our_exchange_only(pipeline, broker_url, broker_name):
    if broker_name == "amqp" and not broker_url.rsplit("/", 1)[-1]:
        pytest.skip("no rabbitmqctl here: the bindings cannot be listed")
    bindings = _bindings(broker_url)
    ours = {(TASK_EXCHANGE, queue, queue) for queue in ALL_QUEUES}
    assert ours <= bindings, f"missing: {sorted(ours - bindings)}"
    assert not {b for b in bindings if b[0] == "normal.control"}, "Celery's default name unused"


def test_a_rabbitmq_publish_waits_for_the_confirm(pipeline, broker_name):
    if broker_name != "amqp":
        pytest.skip("publisher confirms are RabbitMQ's (the Redis transport writes at once)")
    from tasks import app

    assert app.conf.broker_transport_options.get("confirm_publish") is True
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        # py-amqp swaps basic_publish for the confirming one on a connection that asks for it.
        assert channel.connection.confirm_publish is True
        assert channel.basic_publish == channel.basic_publish_confirm
