"""Session tokens: a signed, expiring statement "this browser is user X", made and checked with
itsdangerous's timed serializer.

A token is `URLSafeTimedSerializer(secret, salt).dumps([user_id, expiry])`: URL-safe base64 of
the JSON, the time it was signed, and an HMAC signature. The key is `NOTIFY_SESSION_SECRET`
(at least 32 bytes) when set, else one generated once and kept in Redis, so every process of one
deployment agrees on it. A token expires at its `expiry` (checked at the handshake and, on an
open socket, by the session server, which closes it then), and all of a user's tokens signed
before `notify sessions revoke USER` are refused too (`revoked_before`).

Errors: `TokenError`, whose message is the reason the handshake answers with HTTP 401
("missing token", "malformed token", "bad signature", "expired token", "revoked token").
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from itsdangerous import BadData, BadSignature, URLSafeTimedSerializer

from proto import ID_PATTERN
from settings import Settings
from store import Store

__all__ = [
    "DEFAULT_TTL_S",
    "SessionGrant",
    "TokenError",
    "load_secret",
    "make_token",
    "read_token",
    "verify_token",
]

#: Lifetime of a token unless told otherwise: one day.
DEFAULT_TTL_S = 86400
#: Separates these signatures from any other made with the same key.
_SALT = "notify-session-token-v2"


class TokenError(ValueError):
    """A token that does not authenticate anyone; the message is the reason."""


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """What a good token says: who, when it was signed, until when it holds."""

    user_id: str
    issued_at: float
    expires_at: float


def _serializer(secret: bytes) -> URLSafeTimedSerializer:
    if not secret:
        raise ValueError("empty session secret")
    return URLSafeTimedSerializer(secret, salt=_SALT)


def make_token(
    secret: bytes, user_id: str, ttl_s: int = DEFAULT_TTL_S, now: float | None = None
) -> str:
    """A token for `user_id`, valid `ttl_s` seconds from `now`; ValueError on a bad user id."""
    if not ID_PATTERN.fullmatch(user_id):
        raise ValueError(f"user id must be 1-128 characters of [A-Za-z0-9._:@-]: {user_id!r}")
    expiry = int((time.time() if now is None else now) + ttl_s)
    return _serializer(secret).dumps([user_id, expiry])


def read_token(
    secret: bytes,
    token: str | None,
    now: float | None = None,
    revoked_before: float = 0.0,
) -> SessionGrant:
    """What `token` grants; TokenError with the reason it grants nothing. A token signed
    before `revoked_before` (unix time) is revoked."""
    if not token:
        raise TokenError("missing token")
    if not token.isascii() or token.count(".") != 2:
        raise TokenError("malformed token")
    try:
        payload, signed = _serializer(secret).loads(token, return_timestamp=True)
    except BadSignature as exc:
        if getattr(exc, "payload", None) is None and "." not in token.strip("."):
            raise TokenError("malformed token") from None
        raise TokenError("bad signature") from None
    except BadData:
        raise TokenError("malformed token") from None
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], str)
        and ID_PATTERN.fullmatch(payload[0])
        and isinstance(payload[1], int)
    ):
        raise TokenError("malformed token")
    user_id, expiry = payload
    if (time.time() if now is None else now) >= expiry:
        raise TokenError("expired token")
    issued_at = signed.timestamp()
    if issued_at < revoked_before:
        raise TokenError("revoked token")
    return SessionGrant(user_id, issued_at, float(expiry))


def verify_token(secret: bytes, token: str | None, now: float | None = None) -> str:
    """The user id a token speaks for; raises TokenError with the reason it does not."""
    return read_token(secret, token, now).user_id


def load_secret(settings: Settings, store: Store) -> bytes:
    """`NOTIFY_SESSION_SECRET` when set; else the one kept in Redis, created by whoever came first."""
    return store.signing_secret(settings.session_secret)
