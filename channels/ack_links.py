"""One-click acknowledgement links: `<NOTIFY_PUBLIC_URL>/ack/<signed token>`, served by the
session server. The token is the human-ack token of the store (random, single use, expiring,
bound to one user, event and channel in Redis), signed with the session secret, so a forged or
mangled link is refused before Redis is asked."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

__all__ = ["ACK_PATH", "ack_url", "read_ack_link"]

#: The session server's route of the links.
ACK_PATH = "/ack/"
_SALT = "notify-human-ack"


def ack_url(public_url: str, secret: bytes, token: str) -> str:
    """The link that acknowledges with `token`."""
    signed = URLSafeSerializer(secret, salt=_SALT).dumps(token)
    return public_url.rstrip("/") + ACK_PATH + signed


def read_ack_link(secret: bytes, signed: str) -> str | None:
    """The token of a link's last part, or None when its signature does not hold."""
    try:
        token = URLSafeSerializer(secret, salt=_SALT).loads(signed)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None
