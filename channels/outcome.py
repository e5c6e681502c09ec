"""The one result type every channel returns and every task reads.

An Outcome is plain data: it crosses Celery (JSON) and the delivery log as a dict
(`outcome.as_dict()` / `Outcome.from_dict(d)`).
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


class SkipCode(StrEnum):
    """Why an attempt was skipped; NOT_ACTIVE is worth another CRITICAL round, the rest are not."""

    NO_ADDRESS = "no_address"
    MUTED = "muted"
    NOT_ACTIVE = "not_active"
    NO_SESSION = "no_session"  #: only_if_active on a channel that has no sessions (EMAIL, …)
    EXPIRED = "expired"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Result of one channel attempt."""

    kind: Kind
    detail: str = ""
    retry_after_s: float | None = None
    receipt: str | None = None
    skip: SkipCode | None = None

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

    @property
    def worth_another_round(self) -> bool:
        """Would a later CRITICAL round have a chance where this attempt had none?"""
        return self.kind in (Kind.TRANSIENT, Kind.RATE_LIMITED) or self.skip == SkipCode.NOT_ACTIVE

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Outcome:
        skip = data.get("skip")
        return cls(
            kind=Kind(data["kind"]),
            detail=data.get("detail", ""),
            retry_after_s=data.get("retry_after_s"),
            receipt=data.get("receipt"),
            skip=SkipCode(skip) if skip else None,
        )
