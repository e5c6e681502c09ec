"""The shape every channel has, so reading one channel module teaches all six.

A channel module defines one `Channel` subclass and registers an instance in
`channels/__init__.py`. It declares, up front: the ChannelType it delivers on, whether the user
can have a live session on it, where the user's address sits in the profile, which sandbox
provider speaks its API, the setting without which it is not configured, and its error map.
It implements a pure `render(notice)` and one provider call `send(rendered, address, deps)`
that returns an Outcome. `channels.deliver` runs them: address lookup, "not configured",
render, send, and the catch-all for bugs, in one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from proto import ChannelType
from settings import Settings
from store import UserProfile

from .notice import Notice
from .outcome import Outcome

if TYPE_CHECKING:
    from .deps import Deps

__all__ = ["AddressSpec", "Channel"]


@dataclass(frozen=True, slots=True)
class AddressSpec:
    """Where a channel's address lives in the profile, and how `notify user set` sets it."""

    #: The UserProfile field.
    field: str
    #: The `notify user set` option, e.g. "--email".
    flag: str
    #: Its help text.
    help: str
    #: A list of addresses (push tokens): the flag adds one, `--remove-…` takes one away.
    many: bool = False


class Channel(ABC):
    """One delivery channel (see the module docstring). Subclasses set the class attributes."""

    __slots__ = ()

    #: The proto's ChannelType this channel delivers on.
    type: ClassVar[int]
    #: The user can be live on it (WEB: a browser; TELEGRAM: a recent chat); only_if_active and
    #: ACTIVE_SESSION look only at such channels, through `is_active`.
    has_session: ClassVar[bool] = False
    #: Where the address is; None when the channel needs none (WEB reaches the live session).
    address_spec: ClassVar[AddressSpec | None] = None
    #: The sandbox provider that speaks this channel's API (`sandbox/<name>.py`); None only
    #: for WEB, whose other end is our own session server.
    sandbox: ClassVar[str | None] = None
    #: The variable without which the provider has no client ("not configured"); None when the
    #: channel needs no client of its own.
    client_setting: ClassVar[str | None] = None
    #: `send` answers AWAITING_ACK and delivery waits for the user's ack (WEB): the task polls
    #: `acked` until `ack_timeout_s`, and a redelivered attempt never publishes twice a round.
    awaits_ack: ClassVar[bool] = False
    #: A provider across the network, watched by a circuit breaker shared by every worker
    #: (store/breakers.py); WEB, handed to our own session servers, is not.
    external: ClassVar[bool] = True
    #: `edit` can show a newer update in place of an earlier message (Telegram): only then is
    #: what the channel showed about a thing looked up and kept.
    can_edit: ClassVar[bool] = False

    def edit(self, rendered: Any, address: str, receipt: str, deps: Deps) -> Outcome | None:
        """Show `rendered` in place of the message `receipt` names (a newer update about the
        same thing); None where the channel cannot edit, or this message (then it is sent)."""
        return None

    @property
    def name(self) -> str:
        """The ChannelType's name ("TELEGRAM"): logs, queues, JSON."""
        return ChannelType.Name(self.type)

    def address(self, profile: UserProfile) -> Any:
        """The user's address on this channel; falsy when there is none."""
        if self.address_spec is None:
            return profile.user_id
        return getattr(profile, self.address_spec.field)

    def check_address(self, value: str) -> str | None:
        """Why `value` cannot be an address here (for `notify user set`), or None."""
        return None

    @abstractmethod
    def render(self, notice: Notice) -> Any:
        """The provider's message for the event. Pure: no I/O, never raises on odd payloads."""

    @abstractmethod
    def send(self, rendered: Any, address: Any, deps: Deps) -> Outcome:
        """One provider call; every answer and every expected error is an Outcome."""

    def build_client(self, settings: Settings) -> Any:
        """The provider's SDK client, built once per worker process; None when not configured."""
        return None

    def is_active(self, user_id: str, deps: Deps) -> bool:
        """Has the user a live session here now (only channels with `has_session`)?"""
        return False

    def acked(self, user_id: str, event_id: str, deps: Deps) -> bool:
        """Has the user acked an AWAITING_ACK delivery (only WEB answers AWAITING_ACK)?"""
        return False

    def ack_timeout_s(self, settings: Settings) -> float:
        """How long an AWAITING_ACK delivery waits for the user's ack."""
        return 0.0
