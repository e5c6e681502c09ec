"""Channel claims: "a provider accepted this event on this channel", so no attempt sends twice.

One string per (user, event, channel) holding the provider's receipt, kept as long as the event
claim. A redelivered attempt that finds it answers DELIVERED without calling the provider.
"""

from __future__ import annotations

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["ChannelClaims"]


class ChannelClaims:
    """Per-(user, event, channel) receipts; `channel` is the channel's name (e.g. "DISCORD")."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def accept(self, user_id: str, event_id: str, channel: str, receipt: str) -> None:
        """Record that the provider accepted it (written before anything else can fail)."""
        key = self._keys.channel_claim(user_id, event_id, channel)
        self._client.set(key, receipt or "1", ex=CLAIM_TTL_S)

    def accepted(self, user_id: str, event_id: str, channel: str) -> str | None:
        """The receipt of an earlier accepted send, or None."""
        value = self._client.get(self._keys.channel_claim(user_id, event_id, channel))
        return value.decode() if isinstance(value, bytes) else value
