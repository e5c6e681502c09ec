"""The fault stack: a pipeline of real processes on a Redis of its own (tests/faults/stack.py),
with every provider at this run's sandbox."""

from __future__ import annotations

import pytest

from store import Store
from tests.faults.stack import Stack


@pytest.fixture
def fault_stack(own_stack) -> Stack:
    """Redis, 2 workers, an ingress and a scheduler, all of this test's own (`own_stack`)."""
    return own_stack(workers=2)


@pytest.fixture
def fault_store(fault_stack: Stack) -> Store:
    return fault_stack.store()
