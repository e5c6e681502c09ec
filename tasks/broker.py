"""kombu's Redis transport with two fixes and one speed-up of ours, so every process that talks
to a Redis broker (workers, the ingress, the scheduler) gets them through
`celeryconfig.broker_transport`. docs/upstream.md has the reproductions and the measurements.

1. **A channel closed after its connection.** When Redis goes away while a channel has a BRPOP
   in flight, the channel's first close raises and the channel stays open while its connection
   closes (`transport.client = None`). Closing it again (Celery's consumer does, while it
   restarts) rebuilds the pool from `self.connection.client`, now None: AttributeError
   ('NoneType' object has no attribute 'hostname'), which Celery takes for an unrecoverable
   error, and the worker exits. Here the pool is never rebuilt from a closed connection: it
   raises a connection error, which callers expect and Celery ignores.
2. **A message popped just before Redis went away.** BRPOP takes a message off its queue, then
   the channel records it as unacked in a second command; when Redis goes away in between, the
   message is in neither place and would be lost. Here it is kept in the process and pushed
   back onto its queue before the next BRPOP.
3. **A client per command.** `conn_or_acquire()` builds a new `redis.Redis` (its parser, its
   retry policy, its callbacks) for every publish, ack and bookkeeping command. Here a channel
   keeps one, on its own connection pool, until the pool is disconnected.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["Channel", "Transport"]

log = logging.getLogger(__name__)

#: Messages BRPOP took whose delivery could not be recorded: (message, queue). Process-wide:
#: the channel that took them is closed by the time Redis answers again.
_RESCUED: list[tuple[dict[str, Any], str]] = []
_RESCUED_LOCK = threading.Lock()


class Channel(kombu_redis.Channel):
    """A Redis channel that refuses to rebuild its pool once its connection is closed, and puts
    rescued messages back before it waits for new ones."""

    _sync_client: Any = None

    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("broker connection already closed")
        return super()._connparams(asynchronous=asynchronous)

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        # redis.Redis is thread-safe over its pool: one per channel serves every command.
        if self._sync_client is None:
            self._sync_client = super()._create_client(asynchronous=False)
        return self._sync_client

    def _disconnect_pools(self) -> None:
        self._sync_client = None
        super()._disconnect_pools()

    def _brpop_start(self, timeout: float | None = None) -> None:
        self._put_back_rescued()
        super()._brpop_start(timeout)

    def _put_back_rescued(self) -> None:
        with _RESCUED_LOCK:
            rescued = _RESCUED[:]
            _RESCUED.clear()
        for done, (message, queue) in enumerate(rescued):
            try:
                self._put(queue, message)
            except self.connection_errors:
                with _RESCUED_LOCK:
                    _RESCUED.extend(rescued[done:])
                raise
        if rescued:
            log.warning(
                "%d message(s) taken just before the broker went away: requeued", len(rescued)
            )


class Transport(kombu_redis.Transport):
    """kombu's Redis transport, with `Channel` above."""

    Channel = Channel

    def _deliver(self, message: dict[str, Any], queue: str) -> None:
        try:
            super()._deliver(message, queue)
        except self.connection_errors:
            # Popped, but not recorded as unacked: it is nowhere in Redis now.
            with _RESCUED_LOCK:
                _RESCUED.append((message, queue))
            raise
