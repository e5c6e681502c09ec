"""Every Redis key the project writes, in one place (as arq's constants.py).

All keys start with `NOTIFY_KEY_PREFIX` (default `notify:`), so a test run or a second
deployment can share a Redis without touching anyone else's data. A user id sits in braces:
ids may contain `:`, braces they may not, so `{x}:y:z` and `{x:y}:z` never collide (and the
braces are Redis Cluster hash tags, keeping one user's keys in one slot).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLAIM_TTL_S", "Keys"]

#: How long a claim, channel claim and delivery log live: at least 48 h (docs/reliability.md).
CLAIM_TTL_S = 48 * 3600


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder bound to one prefix."""

    prefix: str = "notify:"

    def claim(self, user_id: str, event_id: str) -> str:
        """Hash: state, lease, receipt time, round, final outcome of one event."""
        return f"{self.prefix}dedup:{{{user_id}}}:{event_id}"

    def channel_claim(self, user_id: str, event_id: str, channel: str) -> str:
        """String: set once a provider accepted this event on this channel (no double send)."""
        return f"{self.prefix}claim:{{{user_id}}}:{event_id}:{channel}"

    def delivery_log(self, user_id: str, event_id: str) -> str:
        """List of JSON entries, one per attempt."""
        return f"{self.prefix}log:{{{user_id}}}:{event_id}"

    def presence(self, ingress_id: str) -> str:
        """Set of user ids with a live XPUB subscriber on one ingress; expires with the ingress."""
        return f"{self.prefix}presence:{ingress_id}"

    def ingresses(self) -> str:
        """Sorted set: ingress id -> last presence refresh (unix seconds)."""
        return f"{self.prefix}ingresses"

    def processes(self) -> str:
        """Sorted set: "worker:<name>" / "scheduler:<name>" -> last beat (store/liveness.py)."""
        return f"{self.prefix}processes"

    def latest(self, user_id: str, key: str) -> str:
        """String: the newest event about one thing of a user (store/supersede.py)."""
        return f"{self.prefix}latest:{{{user_id}}}:{key}"

    def shown(self, user_id: str, key: str, channel: str) -> str:
        """String: the receipt of the message a channel last showed about a thing."""
        return f"{self.prefix}shown:{{{user_id}}}:{key}:{channel}"

    def ack_token(self, token: str) -> str:
        """String: what a human-ack token stands for (store/human_acks.py)."""
        return f"{self.prefix}acktoken:{token}"

    def human_ack(self, user_id: str, event_id: str) -> str:
        """String: the person's acknowledgement of an event: channel and time."""
        return f"{self.prefix}human:{{{user_id}}}:{event_id}"

    def human_wait(self, user_id: str, event_id: str) -> str:
        """String: the due member of the attempt waiting for the acknowledgement."""
        return f"{self.prefix}humanwait:{{{user_id}}}:{event_id}"

    def history(self, user_id: str) -> str:
        """Stream: the events the session servers forwarded to the user (store/history.py)."""
        return f"{self.prefix}history:{{{user_id}}}"

    def history_seen(self, user_id: str, event_id: str) -> str:
        """String: the offset one event is kept at in the user's history."""
        return f"{self.prefix}histseen:{{{user_id}}}:{event_id}"

    def history_cut(self, user_id: str) -> str:
        """String: the newest offset trimmed from the user's history."""
        return f"{self.prefix}histcut:{{{user_id}}}"

    def digest(self, user_id: str, channel: str) -> str:
        """Hash: events held for the user's next digest on one channel (store/digests.py)."""
        return f"{self.prefix}digest:{{{user_id}}}:{channel}"

    def digest_lease(self, user_id: str, channel: str) -> str:
        """String: the token of the attempt sending that digest now."""
        return f"{self.prefix}digestlease:{{{user_id}}}:{channel}"

    def digested(self, user_id: str, event_id: str, channel: str) -> str:
        """String: the channel's digest that carried an event (channel, size, time)."""
        return f"{self.prefix}digested:{{{user_id}}}:{event_id}:{channel}"

    def flood(self, user_id: str, event_type: str, window: int) -> str:
        """Hash: event id -> rank among the user's events of a type in one flood window."""
        return f"{self.prefix}flood:{{{user_id}}}:{event_type}:{window}"

    def breaker(self, channel: str) -> str:
        """Hash: a provider's circuit breaker (store/breakers.py)."""
        return f"{self.prefix}breaker:{channel}"

    def user(self, user_id: str) -> str:
        """Hash: the user's channel addresses and preferences (subscriber directory)."""
        return f"{self.prefix}user:{user_id}"

    def due(self) -> str:
        """Sorted set: due-work member (store/due.py) -> unix time it is due."""
        return f"{self.prefix}due"

    def due_entries(self) -> str:
        """Hash: due-work member -> its JSON entry (a round to start, a parked link)."""
        return f"{self.prefix}duework"

    def open_events(self, critical: bool) -> str:
        """Sorted set: `user_id\\x00event_id` of every event not yet final -> its receipt time
        (unix s); one set per priority, so the sweep finds those past their deadline or TTL."""
        return f"{self.prefix}open:{'critical' if critical else 'normal'}"

    def client_keys(self) -> str:
        """Hash: CURVE client public key (Z85) -> its grant, JSON (store/keyring.py)."""
        return f"{self.prefix}keys"

    def client_keys_version(self) -> str:
        """Counter: goes up on every change of the key registry."""
        return f"{self.prefix}keys:version"

    def live_claims(self, user_id: str) -> str:
        """Counter: the user's events not yet final (capped: NOTIFY_MAX_LIVE_PER_USER)."""
        return f"{self.prefix}live:{{{user_id}}}"

    def sessions_not_before(self, user_id: str) -> str:
        """String: unix time before which this user's session tokens are revoked."""
        return f"{self.prefix}sessrevoke:{{{user_id}}}"

    def send_lease(self, user_id: str, event_id: str) -> str:
        """String: the one attempt allowed to call a provider for this event now (a token)."""
        return f"{self.prefix}sending:{{{user_id}}}:{event_id}"

    def inflight(self) -> str:
        """Sorted set: `user_id\\x00event_id` of every QUEUED event -> its last sign of progress
        (unix time); the scheduler resumes an event whose chain went quiet for too long."""
        return f"{self.prefix}inflight"

    def web_published(self, user_id: str, event_id: str, round_no: int) -> str:
        """String: when the WEB attempt of this round published the event (its ack wait starts)."""
        return f"{self.prefix}webpub:{{{user_id}}}:{event_id}:{round_no}"

    def web_ack(self, user_id: str, event_id: str) -> str:
        """String: set when a browser acked the event over its WebSocket session."""
        return f"{self.prefix}weback:{{{user_id}}}:{event_id}"

    def session_secret(self) -> str:
        """String: the generated HMAC key for session tokens, when none is configured."""
        return f"{self.prefix}session-secret"

    def telegram_link(self, token: str) -> str:
        """String: user id waiting for `/start <token>` in the bot (one-time, expires)."""
        return f"{self.prefix}tglink:{token}"

    def telegram_chat(self, chat_id: str) -> str:
        """Set: user ids linked to one Telegram chat (reverse of `telegram_chat` in the directory)."""
        return f"{self.prefix}tgchat:{chat_id}"

    def telegram_active(self, user_id: str) -> str:
        """String: unix time the user last wrote to the bot; expires after the active window."""
        return f"{self.prefix}tgactive:{{{user_id}}}"
