"""A short per-user history of what the session servers forwarded, so a browser that reconnects
gets what it missed (as Centrifugo's history and recovery do).

  stream  `history:{user}`: one entry per event (fields `e` event id, `f` its 0x20 frame); the
          entry id (`<ms>-<seq>`) is the event's offset. Trimmed to the last N entries and the
          last M seconds on every append.
  seen    `histseen:{user}:<event>` -> its offset: every session server subscribed for the user
          forwards the same event, and it is kept once, at one offset.

  cut     `histcut:{user}` -> the newest offset trimmed away so far.

Recovery is complete when nothing after the browser's offset was trimmed away: trimming takes
the oldest entries first, so it is enough that the offset is not older than the cut. (Redis's
own `max-deleted-entry-id` does not move when a stream is trimmed, only on XDEL.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import redis

from .keys import CLAIM_TTL_S, Keys

__all__ = ["History", "Recovery", "offset_after", "valid_offset"]

#: An offset as a browser sends it back: a Redis stream entry id (two unsigned 64-bit numbers).
_OFFSET = re.compile(r"(\d{1,20})-(\d{1,20})")
_U64 = 2**64
#: The offset of an empty history.
START = "0-0"

# KEYS[1] stream, KEYS[2] seen, KEYS[3] cut; ARGV[1] event id, ARGV[2] frame, ARGV[3] max
# entries, ARGV[4] keep seconds, ARGV[5] ttl of the stream and its cut
_APPEND = """
local known = redis.call('GET', KEYS[2])
if known then return known end
local offset = redis.call('XADD', KEYS[1], '*', 'e', ARGV[1], 'f', ARGV[2])
local cut = false
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[3])
if excess > 0 then
  local gone = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)
  cut = gone[#gone][1]
  redis.call('XTRIM', KEYS[1], 'MAXLEN', '=', ARGV[3])
end
local now = redis.call('TIME')
local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - ARGV[4] * 1000
local old = redis.call('XREVRANGE', KEYS[1], '(' .. oldest .. '-0', '-', 'COUNT', 1)
if #old > 0 then
  cut = old[1][1]
  redis.call('XTRIM', KEYS[1], 'MINID', '=', oldest)
end
if cut then redis.call('SET', KEYS[3], cut, 'EX', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('SET', KEYS[2], offset, 'EX', ARGV[4])
return offset
"""


def valid_offset(text: str) -> bool:
    """Is `text` an offset Redis can read (`<ms>-<seq>`, each below 2^64)?"""
    match = _OFFSET.fullmatch(text)
    return match is not None and all(int(part) < _U64 for part in match.groups())


def offset_after(offset: str, other: str) -> bool:
    """Is stream id `offset` later than `other`?"""
    ms, seq = (int(part) for part in offset.split("-"))
    other_ms, other_seq = (int(part) for part in other.split("-"))
    return (ms, seq) > (other_ms, other_seq)


@dataclass(frozen=True, slots=True)
class Recovery:
    """What a reconnecting browser missed: `events` (offset, frame), oldest first; `complete`,
    False when some of it was trimmed away before it came back; `offset`, the newest offset."""

    events: list[tuple[str, bytes]]
    complete: bool
    offset: str


class History:
    """The per-user event history of the session servers."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._client = client
        self._keys = keys
        self._append = client.register_script(_APPEND)

    def append(
        self, user_id: str, event_id: str, frame: bytes, max_events: int, keep_s: int
    ) -> str:
        """Keep one forwarded event; its offset (the earlier one when it is already kept)."""
        offset = self._append(
            keys=[
                self._keys.history(user_id),
                self._keys.history_seen(user_id, event_id),
                self._keys.history_cut(user_id),
            ],
            args=[event_id, frame, max_events, keep_s, CLAIM_TTL_S],
        )
        return offset.decode() if isinstance(offset, bytes) else str(offset)

    def since(self, user_id: str, offset: str | None) -> Recovery:
        """The events kept after `offset`, oldest first (the history holds at most its N, so
        they are few); None: a first connection, which only learns where the history stands."""
        key = self._keys.history(user_id)
        pipe = self._client.pipeline(transaction=True)  # one snapshot: no trim in between
        pipe.exists(key)
        pipe.xinfo_stream(key)
        pipe.xrange(key, f"({offset}" if offset else "+", "+")
        pipe.get(self._keys.history_cut(user_id))
        exists, info, entries, cut = pipe.execute(raise_on_error=False)
        for result in (exists, entries, cut) + ((info,) if exists else ()):
            if isinstance(result, Exception):  # XINFO fails on a missing stream: that is all
                raise result
        if not exists:  # nothing kept: a known offset means what followed it expired
            return Recovery([], offset in (None, START), START)
        top = _text(info["last-generated-id"])
        if offset is None:
            return Recovery([], True, top)
        events = [(_text(entry_id), fields[b"f"]) for entry_id, fields in entries]
        return Recovery(events, not offset_after(_text(cut or START), offset), top)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
