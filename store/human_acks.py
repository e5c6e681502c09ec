"""A person's acknowledgement of a CRITICAL event ("Got it"), from whichever channel carried it:
the tokens the channels hand out (a Telegram button, a one-click link, the web page's button),
the acknowledgement itself, and the waiting attempt it wakes.

  token   `acktoken:<id>` -> user, event, channel; single use (taken with GETDEL), expiring
  ack     `human:{user}:<event>` -> channel and time; the first one counts
  waiter  `humanwait:{user}:<event>` -> the due member of the attempt waiting for the ack, so an
          ack moves that attempt's due time to now instead of it polling
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["HumanAck", "HumanAcks", "TokenGrant"]

# KEYS[1] ack, KEYS[2] waiter, KEYS[3] due set; ARGV[1] channel, ARGV[2] now, ARGV[3] ttl
_RECORD = """
if redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'NX', 'EX', ARGV[3]) then
  local member = redis.call('GET', KEYS[2])
  if member then redis.call('ZADD', KEYS[3], 'XX', ARGV[2], member) end
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a redeemed token stood for."""

    user_id: str
    event_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class HumanAck:
    """Who acknowledged, where and when."""

    channel: str
    at: float


class HumanAcks:
    """Tokens, acknowledgements and waiting attempts, in the store's Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._record = client.register_script(_RECORD)

    def issue(self, user_id: str, event_id: str, channel: str, ttl_s: float) -> str:
        """A fresh token (22 URL-safe characters) for acknowledging `event_id` on `channel`."""
        token = secrets.token_urlsafe(16)
        grant = json.dumps({"u": user_id, "e": event_id, "c": channel})
        self._client.set(self._keys.ack_token(token), grant, ex=max(1, int(ttl_s)))
        return token

    def peek(self, token: str) -> TokenGrant | None:
        """What the token stands for, leaving it usable: None when unknown or expired."""
        return _grant(self._client.get(self._keys.ack_token(token)))

    def redeem(self, token: str) -> TokenGrant | None:
        """What the token stood for, once: None when unknown, used already or expired."""
        return _grant(self._client.getdel(self._keys.ack_token(token)))

    def record(self, user_id: str, event_id: str, channel: str, now: float | None = None) -> bool:
        """The person acknowledged on `channel`; True when this is the first acknowledgement.
        The attempt waiting for it, if any, comes due at once."""
        now = time.time() if now is None else now
        keys = [
            self._keys.human_ack(user_id, event_id),
            self._keys.human_wait(user_id, event_id),
            self._keys.due(),
        ]
        return bool(self._record(keys=keys, args=[channel, now, CLAIM_TTL_S]))

    def acked(self, user_id: str, event_id: str) -> HumanAck | None:
        raw = self._client.get(self._keys.human_ack(user_id, event_id))
        if raw is None:
            return None
        channel, _, at = raw.decode().partition(" ")
        return HumanAck(channel, float(at))

    def wait(self, user_id: str, event_id: str, due_member: str) -> None:
        """An attempt parked as `due_member` waits for this event's acknowledgement."""
        self._client.set(self._keys.human_wait(user_id, event_id), due_member, ex=CLAIM_TTL_S)


def _grant(raw: bytes | None) -> TokenGrant | None:
    if raw is None:
        return None
    grant = json.loads(raw)
    return TokenGrant(grant["u"], grant["e"], grant["c"])
