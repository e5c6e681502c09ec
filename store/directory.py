"""Subscriber directory: per user, the address on each channel and the muted (channel, event type) pairs."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

import redis

from .keys import Keys

__all__ = ["Directory", "UserProfile", "mute_key"]


def mute_key(channel: str, event_type: str) -> str:
    """How a mute is stored and shown: "CHANNEL:EVENT_TYPE", by name (e.g. "EMAIL:STRATEGY_LOG")."""
    return f"{channel}:{event_type}"


@dataclass(frozen=True, slots=True)
class UserProfile:
    """What the directory knows of one user. Empty strings mean "no address".

    Each address field is named by the channel that reads it (`channels/<name>.py`,
    `ADDRESS.field`); a channel with a new kind of address adds its field here.
    """

    user_id: str
    email: str = ""
    telegram_chat: str = ""
    push_tokens: tuple[str, ...] = ()
    discord_webhook: str = ""
    slack_webhook: str = ""
    #: "CHANNEL:EVENT_TYPE" pairs, e.g. "EMAIL:STRATEGY_LOG".
    muted: tuple[str, ...] = field(default=())
    #: Quiet hours, "HH:MM-HH:MM" in `timezone` (an IANA name; UTC when empty): NORMAL events
    #: are held for one digest at their end (tasks/quiet_hours.py). Empty: none.
    quiet: str = ""
    timezone: str = ""
    #: "CHANNEL@<unix time>" of each channel's last good `notify user verify`.
    verified: tuple[str, ...] = field(default=())

    def is_muted(self, channel: str, event_type: str) -> bool:
        return mute_key(channel, event_type) in self.muted

    def as_dict(self) -> dict:
        data = asdict(self)
        data["push_tokens"] = list(self.push_tokens)
        data["muted"] = list(self.muted)
        data["verified"] = list(self.verified)
        return data


_LIST_FIELDS = {"push_tokens", "muted", "verified"}


class Directory:
    """Profiles kept as one Redis hash per user."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys

    def get(self, user_id: str) -> UserProfile | None:
        """The user's profile, or None when the directory has never heard of them."""
        raw = self._client.hgetall(self._keys.user(user_id))
        if not raw:
            return None
        values: dict = {}
        for name in (f.name for f in fields(UserProfile)):
            value = raw.get(name.encode()) if name != "user_id" else None
            if value is None:
                continue
            text = value.decode()
            values[name] = tuple(json.loads(text)) if name in _LIST_FIELDS else text
        return UserProfile(user_id=user_id, **values)

    def muted_many(self, user_ids: list[str]) -> list[tuple[str, ...]]:
        """Each user's muted "CHANNEL:EVENT_TYPE" pairs, in one round trip."""
        if not user_ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for user_id in user_ids:
            pipe.hget(self._keys.user(user_id), "muted")
        return [tuple(json.loads(raw)) if raw else () for raw in pipe.execute()]

    def put(self, profile: UserProfile) -> None:
        """Store the whole profile."""
        mapping = {
            name: json.dumps(list(value)) if name in _LIST_FIELDS else value
            for name, value in profile.as_dict().items()
            if name != "user_id"
        }
        self._client.hset(self._keys.user(profile.user_id), mapping=mapping)

    def forget_addresses(self, user_id: str, field_name: str, gone: tuple[str, ...]) -> None:
        """Take `gone` out of a list-valued address field (tokens a provider no longer knows)."""
        profile = self.get(user_id)
        if profile is None:
            return
        current = getattr(profile, field_name)
        kept = tuple(value for value in current if value not in set(gone))
        if kept != current:
            self.update(user_id, **{field_name: kept})

    def record_verified(self, user_id: str, channel: str, at: float) -> UserProfile:
        """`channel` reached the user at `at` (`notify user verify`): replaces its last entry."""
        profile = self.get(user_id) or UserProfile(user_id=user_id)
        kept = tuple(v for v in profile.verified if v.partition("@")[0] != channel)
        return self.update(user_id, verified=(*kept, f"{channel}@{at:.0f}"))

    def update(self, user_id: str, **changes) -> UserProfile:
        """Write only the named fields (a concurrent update of other fields is kept); returns
        the new profile."""
        profile = replace(UserProfile(user_id=user_id), **changes)  # validates the names
        mapping = {
            name: json.dumps(list(value)) if name in _LIST_FIELDS else value
            for name, value in changes.items()
        }
        if mapping:
            self._client.hset(self._keys.user(user_id), mapping=mapping)
        else:
            self._client.hsetnx(self._keys.user(user_id), "email", "")
        return self.get(user_id) or profile
