"""The one result type every channel returns and every task reads.

An Outcome is plain data: it crosses Celery (JSON) and the delivery log as a dict
(`outcome.as_dict()` / `Outcome.from_dict(d)`). What a provider's answer means for the user's
profile (a device token it no longer knows, a chat that moved) travels on it as data too, and
`tasks/` applies it; a channel never writes Redis.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Kind", "Outcome", "SkipCode"]


class Kind(StrEnum):
    """What happened to one attempt."""

    DELIVERED = "delivered"  #: the provider accepted it
    TRANSIENT = "transient"  #: 5xx, timeout, connection error: retry with backoff
    RATE_LIMITED = "rate_limited"  #: 429: retry after `retry_after_s`
    PERMANENT = "permanent"  #: 4xx, blocked, bad address: escalate now
    SKIPPED = "skipped"  #: not tried: no address, muted, not active, expired
    AWAITING_ACK = "awaiting_ack"  #: handed to a live session; delivered once the user acks


class SkipCode(StrEnum):
    """Why an attempt was skipped; NOT_ACTIVE is worth another CRITICAL round, the rest are not."""

    NO_ADDRESS = "no_address"
    MUTED = "muted"
    NOT_ACTIVE = "not_active"
    NO_SESSION = "no_session"  #: only_if_active on a channel that has no sessions (EMAIL, …)
    EXPIRED = "expired"
    UNSUPPORTED = "unsupported"
    #: The provider's circuit breaker is open (many recent failures across users): not tried.
    PROVIDER_DOWN = "provider_down"
    #: The provider accepted it, but nobody acknowledged it in time (events that ask for a
    #: person's acknowledgement): worth another round.
    NOT_ACKNOWLEDGED = "not_acknowledged"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of one channel attempt."""

    kind: Kind
    detail: str = ""
    retry_after_s: float | None = None
    receipt: str | None = None
    skip: SkipCode | None = None
    #: Addresses the provider says are gone for good (FCM: UNREGISTERED tokens): drop them.
    forget: tuple[str, ...] = ()
    #: The address moved (Telegram: a group became a supergroup): store the new one.
    moved_to: str | None = None
    #: How long the provider took to answer, seconds (None: no provider was called).
    latency_s: float | None = None

    @classmethod
    def delivered(cls, receipt: str = "") -> Outcome:
        return cls(
            Kind.DELIVERED, f"delivered ({receipt})" if receipt else "delivered", receipt=receipt
        )

    @classmethod
    def transient(cls, detail: str) -> Outcome:
        return cls(Kind.TRANSIENT, detail)

    @classmethod
    def rate_limited(cls, detail: str, retry_after_s: float) -> Outcome:
        return cls(Kind.RATE_LIMITED, detail, retry_after_s=retry_after_s)

    @classmethod
    def permanent(cls, detail: str) -> Outcome:
        return cls(Kind.PERMANENT, detail)

    @classmethod
    def skipped(cls, code: SkipCode, detail: str) -> Outcome:
        return cls(Kind.SKIPPED, detail, skip=code)

    @classmethod
    def internal_error(cls, exc: BaseException) -> Outcome:
        """A bug, not a provider's answer: TRANSIENT, naming only the exception's class (its
        text may name internal hosts)."""
        return cls(Kind.TRANSIENT, f"internal error: {type(exc).__name__}")

    @classmethod
    def awaiting_ack(cls, detail: str) -> Outcome:
        return cls(Kind.AWAITING_ACK, detail)

    @property
    def worth_another_round(self) -> bool:
        """Would a later CRITICAL round have a chance where this attempt had none?"""
        return self.kind in (Kind.TRANSIENT, Kind.RATE_LIMITED) or self.skip in (
            SkipCode.NOT_ACTIVE,
            SkipCode.PROVIDER_DOWN,
            SkipCode.NOT_ACKNOWLEDGED,
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["forget"] = list(self.forget)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        skip = data.get("skip")
        return cls(
            kind=Kind(data["kind"]),
            detail=data.get("detail", ""),
            retry_after_s=data.get("retry_after_s"),
            receipt=data.get("receipt"),
            skip=SkipCode(skip) if skip else None,
            forget=tuple(data.get("forget") or ()),
            moved_to=data.get("moved_to"),
            latency_s=data.get("latency_s"),
        )
