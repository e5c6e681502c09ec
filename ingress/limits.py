"""Rate limits of one ingress: a token bucket per sending key and one per user (docs/security.md).

A new NORMAL or CRITICAL event takes a token from its sender's bucket (the CURVE key, or the
routing id on an unauthenticated loopback ingress) and from its user's; without both it is
answered ACK_ERROR "rate limited", never dropped. Resends of known events cost nothing (they are
answered from the claim). Buckets live in memory, at most MAX_BUCKETS of them (the idlest go
first), so a flood of ids cannot grow the ingress; each replica limits on its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["MAX_BUCKETS", "Buckets", "RateLimits"]

#: Buckets kept per table; the least recently used go first.
MAX_BUCKETS = 100_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Buckets:
    """Token buckets by name: `rate` tokens a second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: int, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate, self.burst, self._max = rate, float(burst), max_buckets
        self._buckets: OrderedDict[str | bytes, _Bucket] = OrderedDict()

    def take(self, name: str | bytes, now: float | None = None) -> bool:
        """Take one token from `name`'s bucket; False when it has none."""
        now = time.monotonic() if now is None else now
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = _Bucket(self.burst, now)
            if len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(name)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def give_back(self, name: str | bytes) -> None:
        """Return a token taken for an event that was refused anyway."""
        bucket = self._buckets.get(name)
        if bucket is not None:
            bucket.tokens = min(self.burst, bucket.tokens + 1)


class RateLimits:
    """The sender's and the user's buckets together."""

    def __init__(
        self, rate_per_key: float, burst_per_key: int, rate_per_user: float, burst_per_user: int
    ):
        self.senders = Buckets(rate_per_key, burst_per_key)
        self.users = Buckets(rate_per_user, burst_per_user)

    def refusal(self, sender: str | bytes, user_id: str) -> str | None:
        """None when both buckets had a token; else the ACK_ERROR text."""
        if not self.senders.take(sender):
            return f"rate limited: more than {self.senders.rate:g} events/s from this sender"
        if not self.users.take(user_id):
            self.senders.give_back(sender)
            return f"rate limited: more than {self.users.rate:g} events/s for user {user_id}"
        return None
