"""Events that ask for a person's acknowledgement (NOTIFY_HUMAN_ACK_TYPES, CRITICAL only): a
provider accepting the message is not the end. The attempt that got it accepted waits for the
person (NOTIFY_HUMAN_ACK_WAIT_S, parked in the due set, woken at once by an ack); without an
ack it hands on to the next channel, and the round after that sends again, with backoff, until
the deadline. The ack may come from any channel that carried the event (the Telegram button, a
one-click link, the web page); the event is then DELIVERED via that channel.

Pure decisions and the links' tokens; tasks/attempt.py does the parking and finishing.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from channels import Channel, Notice, ack_url
from proto import EventType, decode_frame
from settings import Settings

from .contract import Job

__all__ = ["asks_for_ack", "channel_claim", "with_ack_link"]


def asks_for_ack(job: Job, settings: Settings) -> bool:
    """Does this event wait for a person's acknowledgement?"""
    if not job.critical:
        return False
    return settings.asks_for_ack(EventType.Name(decode_frame(job.frame).event_type), True)


def channel_claim(channel: Channel, job: Job, asks: bool) -> str:
    """The name of the one-send-per-channel claim: per round for an event that asks for an ack
    (each round notifies again), else per event."""
    return f"{channel.name}#{job.round}" if asks else channel.name


def with_ack_link(notice: Notice, channel: Channel, deps) -> Notice:
    """The notice with a fresh token for this channel's "Got it" (single use, expiring with the
    deadline) and the signed one-click link that redeems it."""
    settings = deps.settings
    store = deps.store
    token = store.human_acks.issue(
        notice.user_id, notice.event_id, channel.name, settings.critical_deadline_s
    )
    secret = _signing_secret(store, settings.session_secret)
    return replace(notice, ack_token=token, ack_url=ack_url(settings.public_url, secret, token))


@lru_cache(maxsize=4)
def _signing_secret(store, configured: str) -> bytes:
    """Read once per worker process (the session servers read it once at start too)."""
    return store.signing_secret(configured)
