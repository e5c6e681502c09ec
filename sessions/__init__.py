"""The WebSocket session server: browsers log in with a signed token, get their notifications
live from every ingress XPUB, and ack them into Redis for the WEB channel.

    notify sessions                     # serve on 0.0.0.0:8570
    notify sessions token USER_ID       # a token; open http://HOST:8570/?token=TOKEN
"""

from settings import Settings
from store import Store

from .messages import ClientMessageError, event_message, parse_ack
from .server import DEFAULT_HOST, DEFAULT_PORT, SessionServer, run
from .tokens import (
    DEFAULT_TTL_S,
    SessionGrant,
    TokenError,
    load_secret,
    make_token,
    read_token,
    verify_token,
)

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_TTL_S",
    "ClientMessageError",
    "SessionGrant",
    "SessionServer",
    "TokenError",
    "event_message",
    "issue_token",
    "load_secret",
    "make_token",
    "page_url",
    "parse_ack",
    "read_token",
    "run",
    "verify_token",
]


def issue_token(settings: Settings, store: Store, user_id: str, ttl_s: int = DEFAULT_TTL_S) -> str:
    """A session token for `user_id` under this deployment's secret (``notify sessions token``)."""
    return make_token(load_secret(settings, store), user_id, ttl_s)


def page_url(token: str, base_url: str = f"http://127.0.0.1:{DEFAULT_PORT}") -> str:
    """The link that opens the session page logged in with `token`."""
    return f"{base_url.rstrip('/')}/?token={token}"
