"""Session tokens: a signed, expiring statement "this browser is user X", checked at the handshake.

Format: ``base64url(user_id "|" expiry) "." base64url(HMAC-SHA256(secret, context + body))``,
no padding; ``expiry`` is unix seconds. The user id follows the wire format's id rule, which has
no ``|``. The key is ``NOTIFY_SESSION_SECRET`` when set, else one generated once and kept in Redis
(``store.keys.session_secret()``), so every process of one deployment agrees on it.

Errors: `TokenError`, whose message is the reason the handshake answers with HTTP 401
("missing token", "malformed token", "bad signature", "expired token").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from proto import ID_PATTERN
from settings import Settings
from store import Store

__all__ = ["DEFAULT_TTL_S", "TokenError", "load_secret", "make_token", "verify_token"]

#: Lifetime of a token unless told otherwise: one day.
DEFAULT_TTL_S = 86400
#: Mixed into every MAC, so a signature made with the same key for another purpose never passes.
_CONTEXT = b"notify-session-token-v1."


class TokenError(ValueError):
    """A token that does not authenticate anyone; the message is the reason."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, body: str) -> str:
    return _b64encode(hmac.new(secret, _CONTEXT + body.encode("ascii"), hashlib.sha256).digest())


def make_token(
    secret: bytes, user_id: str, ttl_s: int = DEFAULT_TTL_S, now: float | None = None
) -> str:
    """A token for `user_id`, valid `ttl_s` seconds from `now`; ValueError on a bad user id."""
    if not ID_PATTERN.fullmatch(user_id):
        raise ValueError(f"user id must be 1-128 characters of [A-Za-z0-9._:@-]: {user_id!r}")
    if not secret:
        raise ValueError("empty session secret")
    expiry = int((time.time() if now is None else now) + ttl_s)
    body = _b64encode(f"{user_id}|{expiry}".encode("ascii"))
    return f"{body}.{_mac(secret, body)}"


def verify_token(secret: bytes, token: str | None, now: float | None = None) -> str:
    """The user id a token speaks for; raises TokenError with the reason it does not."""
    if not token:
        raise TokenError("missing token")
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature or not token.isascii():
        raise TokenError("malformed token")
    if not hmac.compare_digest(_mac(secret, body), signature):
        raise TokenError("bad signature")
    try:
        user_id, bar, expiry_text = _b64decode(body).decode("ascii").rpartition("|")
        expiry = int(expiry_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TokenError("malformed token") from None
    if not bar or not ID_PATTERN.fullmatch(user_id):
        raise TokenError("malformed token")
    if (time.time() if now is None else now) >= expiry:
        raise TokenError("expired token")
    return user_id


def load_secret(settings: Settings, store: Store) -> bytes:
    """`NOTIFY_SESSION_SECRET` when set; else the one kept in Redis, created by whoever came first."""
    if settings.session_secret:
        return settings.session_secret.encode()
    return store.session_secret()
