"""The two brokers the suite runs on: Redis (the default: the store's own server) and RabbitMQ
(`pytest --broker amqp`, for the end-to-end and fault tests, marked `broker`).

Each RabbitMQ user of the suite gets a virtual host of its own (made and removed with
`rabbitmqctl`), so two runs, or the shared stack and a fault stack, never take each other's
tasks; a Redis broker is kept apart by the key prefix instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["AMQP_BASE", "amqp_answers", "amqp_vhost", "drop_amqp_connections"]

#: The RabbitMQ the suite uses (guest/guest on loopback, as CI has it).
AMQP_BASE = os.environ.get("NOTIFY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")


def amqp_answers(url: str = AMQP_BASE + "//") -> bool:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as connection:
            connection.ensure_connection(max_retries=1)
        return True
    except Exception:
        return False


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "--quiet", *args], check=True, capture_output=True, timeout=60)


@contextmanager
def amqp_vhost(name: str = "") -> Iterator[str]:
    """A broker URL on a virtual host of its own, removed afterwards (the default one, "/",
    where rabbitmqctl is not at hand)."""
    if shutil.which("rabbitmqctl") is None:
        yield AMQP_BASE + "//"
        return
    vhost = name or f"notifytest-{uuid.uuid4().hex[:8]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{AMQP_BASE}/{vhost}"
    finally:
        _rabbitmqctl("delete_vhost", vhost)


def drop_amqp_connections(broker_url: str) -> None:
    """A broker outage as its clients see it: RabbitMQ closes every connection of the vhost."""
    vhost = broker_url.rsplit("/", 1)[-1] or "/"
    _rabbitmqctl("close_all_connections", "--vhost", vhost, "fault test: broker outage")
