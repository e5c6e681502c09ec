"""What a provider's answer means for the user's profile, applied in one place: addresses the
provider no longer knows are dropped (`Outcome.forget`, FCM's UNREGISTERED tokens), and an
address that moved is followed (`Outcome.moved_to`, a Telegram group that became a supergroup,
whose chat index the Telegram links keep too)."""

from __future__ import annotations

import logging

from channels import Channel, Outcome
from proto import ChannelType
from store import Store

__all__ = ["apply_effects"]

log = logging.getLogger(__name__)


def apply_effects(channel: Channel, user_id: str, outcome: Outcome, store: Store) -> None:
    """Apply the outcome's side effects; a failure is logged, never raised (the send happened)."""
    if not (outcome.forget or outcome.moved_to) or channel.address_spec is None:
        return
    field = channel.address_spec.field
    try:
        if outcome.forget:
            store.directory.forget_addresses(user_id, field, outcome.forget)
            log.info(
                "channel=%s dropped=%d addresses the provider no longer knows",
                channel.name,
                len(outcome.forget),
            )
        if outcome.moved_to:
            if channel.type == ChannelType.TELEGRAM:
                store.telegram.link(user_id, outcome.moved_to)
            else:
                store.directory.update(user_id, **{field: outcome.moved_to})
            log.info("channel=%s address moved; following it", channel.name)
    except Exception:
        log.warning("channel=%s profile not updated after the send", channel.name, exc_info=True)
