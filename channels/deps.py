"""What a channel needs to talk to the world, built once per worker process (never per task)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    #: Provider SDK clients, built once per process by each channel's `build_client(settings)`;
    #: None where the provider is not configured.
    telegram: Any = None
    sendgrid: Any = None
    fcm: Any = None
