"""The fault stack: a pipeline of real processes on a Redis of its own (tests/faults/stack.py),
with every provider at this run's sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from store import Store
from tests.brokers import amqp_vhost
from tests.faults.stack import Stack

#: Settings of the shared test stack that the fault stack takes over (the providers).
PROVIDER_SETTINGS = (
    "NOTIFY_TELEGRAM_TOKEN",
    "NOTIFY_TELEGRAM_API_URL",
    "NOTIFY_SENDGRID_API_KEY",
    "NOTIFY_SENDGRID_HOST",
    "NOTIFY_EMAIL_FROM",
    "NOTIFY_FCM_CREDENTIALS",
    "NOTIFY_FCM_PROJECT_ID",
    "NOTIFY_FCM_ENDPOINT",
)


@pytest.fixture
def fault_stack(stack_env, sandbox, broker_name, tmp_path) -> Iterator[Stack]:
    """Redis, 2 workers, an ingress and a scheduler, all of this test's own; the broker is that
    Redis, or a RabbitMQ vhost of its own with `--broker amqp`."""
    env = {name: stack_env[name] for name in PROVIDER_SETTINGS}
    with ExitStack() as resources:
        broker = resources.enter_context(amqp_vhost()) if broker_name == "amqp" else None
        stack = Stack(tmp_path, sandbox.url, env, broker_url=broker)
        resources.callback(stack.close)
        yield stack.start(workers=2)


@pytest.fixture
def fault_store(fault_stack: Stack) -> Store:
    return Store(fault_stack.redis_url, fault_stack.env["NOTIFY_KEY_PREFIX"])
