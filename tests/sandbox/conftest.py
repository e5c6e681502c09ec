"""A sandbox of each test module's own (port 0), reset around every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import SandboxServer, reset


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(port=0) as running:
        yield running


@pytest.fixture
def url(server: SandboxServer) -> Iterator[str]:
    reset(server.url)
    yield server.url
    reset(server.url)
