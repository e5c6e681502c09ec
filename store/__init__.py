"""Redis access only: claims, presence, directory, delivery log; keys.py names every key."""

from __future__ import annotations

import redis

from .claims import Claim, Claims, ClaimState, Seen
from .delivery_log import DeliveryLog
from .directory import Directory, UserProfile
from .due import DueRounds
from .embedded import EmbeddedRedisError, redis_answers, start_embedded_redis, wait_for_redis
from .keys import CLAIM_TTL_S, Keys
from .presence import PRESENCE_TTL_S, Presence
from .telegram import LINK_TOKEN_TTL_S, TelegramLinks

__all__ = [
    "CLAIM_TTL_S",
    "LINK_TOKEN_TTL_S",
    "PRESENCE_TTL_S",
    "Claim",
    "ClaimState",
    "Claims",
    "DeliveryLog",
    "DueRounds",
    "EmbeddedRedisError",
    "Directory",
    "Keys",
    "Presence",
    "Seen",
    "Store",
    "TelegramLinks",
    "UserProfile",
    "redis_answers",
    "start_embedded_redis",
    "validate_user_id",
    "wait_for_redis",
]


def validate_user_id(user_id: str) -> str | None:
    """None when `user_id` is a valid id (same rule as the wire format), else the problem."""
    from proto import ID_PATTERN

    return (
        None
        if ID_PATTERN.fullmatch(user_id)
        else f"user id must be 1-128 characters of [A-Za-z0-9._:@-]: {user_id!r}"
    )


class Store:
    """Every store of one Redis, sharing a connection pool and a key prefix."""

    def __init__(self, redis_url: str, key_prefix: str = "notify:") -> None:
        self.client = redis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.keys = Keys(key_prefix)
        self.claims = Claims(self.client, self.keys)
        self.presence = Presence(self.client, self.keys)
        self.directory = Directory(self.client, self.keys)
        self.delivery_log = DeliveryLog(self.client, self.keys)
        self.due = DueRounds(self.client, self.keys)
        self.telegram = TelegramLinks(self.client, self.keys, self.directory)
