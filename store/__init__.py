"""Redis access only: claims, presence, directory, delivery log; keys.py names every key."""

from __future__ import annotations

import redis

from .claims import Claim, Claims, ClaimState, Seen
from .delivery_log import DeliveryLog
from .directory import Directory, UserProfile
from .keys import CLAIM_TTL_S, Keys
from .presence import PRESENCE_TTL_S, Presence

__all__ = [
    "CLAIM_TTL_S",
    "PRESENCE_TTL_S",
    "Claim",
    "ClaimState",
    "Claims",
    "DeliveryLog",
    "Directory",
    "Keys",
    "Presence",
    "Seen",
    "Store",
    "UserProfile",
]


class Store:
    """Every store of one Redis, sharing a connection pool and a key prefix."""

    def __init__(self, redis_url: str, key_prefix: str = "notify:") -> None:
        self.client = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.keys = Keys(key_prefix)
        self.claims = Claims(self.client, self.keys)
        self.presence = Presence(self.client, self.keys)
        self.directory = Directory(self.client, self.keys)
        self.delivery_log = DeliveryLog(self.client, self.keys)
