"""Redis access only: claims, presence, directory, delivery log, channel claims, web acks, the
sessions' history, digests, the due set; keys.py names every key. Nothing outside this package talks to Redis."""

from __future__ import annotations

import secrets
import time

import redis

from .breakers import Breakers, BreakerState
from .channel_claims import ChannelClaims
from .claims import (
    OUTBOX_GRACE_S,
    Claim,
    Claims,
    ClaimState,
    Fence,
    Finalized,
    Seen,
)
from .delivery_log import DeliveryLog
from .digests import Digested, Digests
from .directory import Directory, UserProfile, mute_key
from .due import DueWork, Taken, link_member, round_member
from .embedded import EmbeddedRedisError, redis_answers, start_embedded_redis, wait_for_redis
from .history import History, Recovery, valid_offset
from .human_acks import HumanAck, HumanAcks, TokenGrant
from .keyring import Grant, KeyRing, Role
from .keys import CLAIM_TTL_S, Keys
from .liveness import BEAT_S, DEAD_AFTER_S, STALE_AFTER_S, Liveness, this_process
from .presence import PRESENCE_TTL_S, Presence
from .supersede import Supersede, Supersessions
from .telegram import LINK_TOKEN_TTL_S, TelegramLinks
from .web_acks import WebAcks

__all__ = [
    "BEAT_S",
    "CLAIM_TTL_S",
    "BreakerState",
    "Breakers",
    "DEAD_AFTER_S",
    "STALE_AFTER_S",
    "LINK_TOKEN_TTL_S",
    "OUTBOX_GRACE_S",
    "PRESENCE_TTL_S",
    "ChannelClaims",
    "Claim",
    "ClaimState",
    "Claims",
    "DeliveryLog",
    "Digested",
    "Digests",
    "Directory",
    "DueWork",
    "EmbeddedRedisError",
    "Fence",
    "Finalized",
    "Grant",
    "History",
    "HumanAck",
    "HumanAcks",
    "TokenGrant",
    "KeyRing",
    "Keys",
    "Liveness",
    "Presence",
    "Recovery",
    "Role",
    "Seen",
    "Store",
    "StoreError",
    "Supersede",
    "Supersessions",
    "Taken",
    "TelegramLinks",
    "UserProfile",
    "WebAcks",
    "link_member",
    "mute_key",
    "redis_answers",
    "round_member",
    "start_embedded_redis",
    "validate_user_id",
    "wait_for_redis",
    "valid_offset",
    "this_process",
]

#: What a Redis failure raises, for callers outside this package.
StoreError = redis.RedisError
#: Bytes of a generated session secret.
_SECRET_BYTES = 32


def validate_user_id(user_id: str) -> str | None:
    """None when `user_id` is a valid id (same rule as the wire format), else the problem."""
    from proto import ID_PATTERN

    return (
        None
        if ID_PATTERN.fullmatch(user_id)
        else f"user id must be 1-128 characters of [A-Za-z0-9._:@-]: {user_id!r}"
    )


class Store:
    """Every store of one Redis, sharing a connection pool and a key prefix; every command
    times out after `timeout_s` (the ingress, whose loop must not stall, uses less)."""

    def __init__(self, redis_url: str, key_prefix: str = "notify:", timeout_s: float = 5.0) -> None:
        self.redis_url = redis_url
        # Timeouts and keepalive: a silently dead Redis is noticed, never waited on forever.
        self.client = redis.Redis.from_url(
            redis_url,
            socket_timeout=timeout_s,
            socket_connect_timeout=min(timeout_s, 2.0),
            socket_keepalive=True,
            health_check_interval=10,
        )
        self.keys = Keys(key_prefix)
        self.claims = Claims(self.client, self.keys)
        self.channel_claims = ChannelClaims(self.client, self.keys)
        self.presence = Presence(self.client, self.keys)
        self.directory = Directory(self.client, self.keys)
        self.delivery_log = DeliveryLog(self.client, self.keys)
        self.due = DueWork(self.client, self.keys)
        self.telegram = TelegramLinks(self.client, self.keys, self.directory)
        self.web_acks = WebAcks(self.client, self.keys)
        self.keyring = KeyRing(self.client, self.keys)
        self.liveness = Liveness(self.client, self.keys)
        self.breakers = Breakers(self.client, self.keys)
        self.supersessions = Supersessions(self.client, self.keys)
        self.human_acks = HumanAcks(self.client, self.keys)
        self.history = History(self.client, self.keys)
        self.digests = Digests(self.client, self.keys)

    def record_fast_deliveries(self, events: list[tuple[str, str]], detail: str) -> None:
        """NORMAL events handed to a live subscriber by the ingress: DELIVERED via WEB, and one
        delivery-log entry each, for a whole batch in one round trip."""
        if not events:
            return
        pipe = self.client.pipeline(transaction=False)
        for user_id, event_id in events:
            self.claims.finalize(user_id, event_id, ClaimState.DELIVERED, 0, "WEB", pipe=pipe)
            entry = {"channel": "WEB", "round": 0, "try": 0, "kind": "delivered", "detail": detail}
            self.delivery_log.append(user_id, event_id, entry, pipe=pipe)
            # Final now (finalize stopped watching it): its round-0 outbox entry goes too.
            member = round_member(user_id, event_id, 0)
            pipe.zrem(self.keys.due(), member)
            pipe.hdel(self.keys.due_entries(), member)
        pipe.execute()

    def forget_everything(self) -> int:
        """Delete every key under this store's prefix (a benchmark's or a test run's own data,
        never anyone else's); returns how many."""
        keys = list(self.client.scan_iter(match=f"{self.keys.prefix}*", count=1000))
        for start in range(0, len(keys), 1000):
            self.client.delete(*keys[start : start + 1000])
        return len(keys)

    def command_stats(self) -> tuple[dict[str, int], float, int]:
        """Calls per Redis command so far, Redis's CPU seconds (user + system) and the memory
        it uses (bytes): what a benchmark reads before and after a run (bench/redis_ops.py)."""
        stats = self.client.info("commandstats")
        calls = {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}
        cpu = self.client.info("cpu")
        memory = int(self.client.info("memory")["used_memory"])
        return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]), memory

    def durability_problems(self) -> list[str]:
        """What would make this Redis lose claims or queued work: an eviction policy other than
        noeviction, or no persistence at all (AOF off and no RDB snapshots). Empty when fine."""
        try:
            config = self.client.config_get("maxmemory-policy")
            config |= self.client.config_get("appendonly")
            config |= self.client.config_get("save")
        except redis.RedisError as exc:  # managed Redis often refuses CONFIG
            return [f"cannot read its configuration ({type(exc).__name__}); check it by hand"]
        problems = []
        policy = config.get("maxmemory-policy", "")
        if policy != "noeviction":
            problems.append(
                f"maxmemory-policy is {policy!r}: keys may be evicted (want noeviction)"
            )
        if config.get("appendonly") != "yes" and not config.get("save"):
            problems.append("no persistence (appendonly no, save ''): a restart loses everything")
        return problems

    def revoke_sessions(self, user_id: str, at: float | None = None) -> None:
        """Every session token of `user_id` signed before `at` (now) is revoked."""
        at = time.time() if at is None else at
        self.client.set(self.keys.sessions_not_before(user_id), repr(at), ex=CLAIM_TTL_S)

    def sessions_revoked_before(self, user_ids: list[str]) -> dict[str, float]:
        """For each user, the time before which their session tokens are revoked (0: never)."""
        if not user_ids:
            return {}
        values = self.client.mget([self.keys.sessions_not_before(u) for u in user_ids])
        return {u: float(v) if v else 0.0 for u, v in zip(user_ids, values, strict=True)}

    def signing_secret(self, configured: str = "") -> bytes:
        """The key of session tokens and acknowledgement links: `configured`
        (NOTIFY_SESSION_SECRET) when set, else the one kept in Redis (`session_secret`)."""
        return configured.encode() if configured else self.session_secret()

    def session_secret(self) -> bytes:
        """The deployment's generated session-token key, created by whoever came first.

        SET NX then GET: two processes starting together both end up with the winner's secret.
        """
        key = self.keys.session_secret()
        self.client.set(key, secrets.token_urlsafe(_SECRET_BYTES), nx=True)
        secret = self.client.get(key)
        if not secret:  # deleted between the two calls: extremely unlikely, never silently empty
            raise RuntimeError(f"session secret missing from Redis at {key}")
        return bytes(secret)
