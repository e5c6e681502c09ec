"""The fault stack: a pipeline of real processes on a Redis of its own (tests/faults/stack.py),
with every provider at this run's sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from store import Store
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
def fault_stack(stack_env, sandbox, tmp_path) -> Iterator[Stack]:
    """Redis, 2 workers, an ingress and a scheduler, all of this test's own."""
    env = {name: stack_env[name] for name in PROVIDER_SETTINGS}
    stack = Stack(tmp_path, sandbox.url, env)
    try:
        yield stack.start(workers=2)
    finally:
        stack.close()


@pytest.fixture
def fault_store(fault_stack: Stack) -> Store:
    return Store(fault_stack.redis_url, fault_stack.env["NOTIFY_KEY_PREFIX"])
