"""kombu's Redis transport with one fix of ours, so every process that talks to a Redis broker
(workers, the ingress, the scheduler) gets it through `celeryconfig.broker_transport`.

The fix (docs/upstream.md, "kombu: a channel closed after its connection"): when Redis goes away
while a channel has a BRPOP in flight, the channel's first close raises and the channel stays
open while its connection closes (`transport.client = None`). Closing the channel again (Celery's
consumer does, while restarting after the connection error) rebuilds its connection pool from
`self.connection.client`, which is now None, and raises AttributeError ('NoneType' object has no
attribute 'hostname'); Celery takes that for an unrecoverable error and the worker exits. Here
the pool is never rebuilt from a closed connection: it raises a connection error, which callers
expect and Celery ignores. The channel's unacked messages stay in Redis's unacked index, and
`restore_visible` puts them back after the visibility timeout.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

__all__ = ["Channel", "Transport"]


class Channel(kombu_redis.Channel):
    """A Redis channel that refuses to rebuild its pool once its connection is closed."""

    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("broker connection already closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    """kombu's Redis transport, with `Channel` above."""

    Channel = Channel
