"""The key registry: which CURVE client keys may talk to the ingress, and as whom.

One hash (`keys`) maps a client's public key (Z85) to its grant, as JSON; a counter
(`keys:version`) goes up on every change, so an ingress notices a revocation within one poll
and drops the revoked key's connections. Grants (`Grant.role`):

  container   sends events for one user (`subject` = the user id); may not subscribe
  service     a trusted platform service: sends events for any user (`subject` = its name)
  subscriber  subscribes on the XPUB (session servers, dashboards; `subject` = its name);
              may not send
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum

import redis

from .keys import Keys

__all__ = ["Grant", "KeyRing", "Role"]


class Role(StrEnum):
    """What a client key is allowed to do."""

    CONTAINER = "container"  #: send for its one user
    SERVICE = "service"  #: send for any user
    SUBSCRIBER = "subscriber"  #: subscribe on the XPUB


@dataclass(frozen=True, slots=True)
class Grant:
    """One registered client key."""

    public: str
    role: Role
    subject: str
    created: float = 0.0

    @property
    def may_send(self) -> bool:
        return self.role in (Role.CONTAINER, Role.SERVICE)

    def may_send_for(self, user_id: str) -> bool:
        return self.role == Role.SERVICE or (
            self.role == Role.CONTAINER and self.subject == user_id
        )

    @property
    def may_subscribe(self) -> bool:
        return self.role == Role.SUBSCRIBER


class KeyRing:
    """Client keys in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._hash = keys.client_keys()
        self._version = keys.client_keys_version()

    def add(self, public: str, role: Role, subject: str) -> Grant:
        grant = Grant(public, Role(role), subject, time.time())
        pipe = self._client.pipeline(transaction=True)
        pipe.hset(self._hash, public, json.dumps(asdict(grant)))
        pipe.incr(self._version)
        pipe.execute()
        return grant

    def revoke(self, public: str) -> bool:
        """Forget a key; False when it was not registered."""
        pipe = self._client.pipeline(transaction=True)
        pipe.hdel(self._hash, public)
        pipe.incr(self._version)
        removed, _ = pipe.execute()
        return bool(removed)

    def version(self) -> int:
        return int(self._client.get(self._version) or 0)

    def all(self) -> dict[str, Grant]:
        """Every registered key, by its public key."""
        grants = {}
        for public, raw in self._client.hgetall(self._hash).items():
            data = json.loads(raw)
            grants[public.decode()] = Grant(
                data["public"], Role(data["role"]), data["subject"], data.get("created", 0.0)
            )
        return grants
