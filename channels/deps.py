"""What a channel needs to talk to the world, built once per worker process (never per task)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from settings import Settings
from store import Store

__all__ = ["Deps"]


@dataclass(frozen=True, slots=True)
class Deps:
    """Clients shared by the channels of one process."""

    settings: Settings
    store: Store
    #: Webhooks and other plain HTTP providers; every call times out within the provider timeout.
    http: httpx.Client
    #: Hands a 0x20 frame for a user to the ingresses, which publish it on their XPUB.
    publish_web: Callable[[str, bytes], None]
    #: Provider SDK clients by ChannelType, each built by its channel's `build_client`; a
    #: channel that needs one and has none is not configured.
    clients: Mapping[int, Any] = field(default_factory=dict)

    def client(self, channel: int) -> Any:
        """The SDK client of one channel, or None."""
        return self.clients.get(channel)
