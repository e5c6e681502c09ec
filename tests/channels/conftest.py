"""Channel fixtures: the plain HTTP client a worker hands every channel. Notices and Deps are
built with `tests.helpers.make_notice` / `make_deps`; each test file adds its provider's client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    """Deps' HTTP client (webhooks and other plain HTTP providers), closed after the test."""
    with httpx.Client(timeout=5) as client:
        yield client
