"""The HTTP side of the session server, answered in websockets' ``process_request`` hook.

Routes:

- ``GET /``: the session page (``page.html``), self-contained.
- ``GET /ws?token=TOKEN`` with a WebSocket upgrade: the session. A missing, malformed, forged,
  expired or revoked token is refused here, before the upgrade, with HTTP 401 and the reason as
  the body; a good one sets ``connection.username`` to the user id and ``connection.token_grant``
  to what it grants (the hub closes the socket when the token expires or is revoked).
  ``&since=OFFSET``, the last history offset the browser saw, asks for what it missed
  (``connection.recover_since``); a malformed one is refused with 400.
- ``GET /whoami?token=TOKEN``: 200 with ``{"user_id": …}`` or 401 with the reason. Browsers
  cannot read a refused WebSocket handshake's status, so the page asks here to say why.
- ``GET /ack/<signed>[?confirm=yes]``: a one-click acknowledgement link (``ack_links.py``).
- ``GET /healthz``: 200 ``ok``. Anything else: 404.

Tokens ride in the URL, so responses carry ``Referrer-Policy: no-referrer`` and nothing here
logs a path or a token.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable
from importlib import resources
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from channels import ACK_PATH
from store import valid_offset

from .ack_links import AckLinks
from .tokens import SessionGrant, TokenError, read_token

__all__ = ["Handshake", "page_html"]

#: The WebSocket path.
WS_PATH = "/ws"
#: The page may talk to its own origin only; inline style and script are its whole code.
#: The acknowledgement pages: no script at all, a form back to the same link.
ACK_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'"
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "connect-src 'self' ws: wss:; img-src data:; base-uri 'none'; form-action 'self'"
)


def page_html() -> bytes:
    """The session page."""
    return resources.files(__package__).joinpath("page.html").read_bytes()


def _response(status: http.HTTPStatus, body: bytes, content_type: str, **headers: str) -> Response:
    values = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Content-Type-Options", "nosniff"),
            ("Connection", "close"),
        ]
    )
    for name, value in headers.items():
        values[name.replace("_", "-")] = value
    return Response(status.value, status.phrase, values, body)


def _text(status: http.HTTPStatus, text: str) -> Response:
    return _response(status, text.encode(), "text/plain; charset=utf-8")


class Handshake:
    """``process_request`` for the session server: routes, and the token check at the upgrade.

    Parameters: `secret`, the token key; `revoked_before(user_id)`, the time before which that
    user's tokens are revoked (0 when never); `ack_links`, what answers acknowledgement links.
    """

    def __init__(
        self, secret: bytes, revoked_before: Callable[[str], float], ack_links: AckLinks
    ) -> None:
        self._secret = secret
        self._revoked_before = revoked_before
        self._ack_links = ack_links
        self._page = page_html()

    def _grant(self, query: str) -> SessionGrant:
        tokens = parse_qs(query).get("token") or [""]
        grant = read_token(self._secret, tokens[0])
        if grant.issued_at < self._revoked_before(grant.user_id):
            raise TokenError("revoked token")
        return grant

    def _user(self, query: str) -> str:
        return self._grant(query).user_id

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == WS_PATH:
            try:
                grant = self._grant(url.query)
            except TokenError as exc:
                return _text(http.HTTPStatus.UNAUTHORIZED, str(exc))
            since = parse_qs(url.query).get("since", [None])[0]
            if since is not None and not valid_offset(since):
                return _text(http.HTTPStatus.BAD_REQUEST, "malformed since (an offset: 123-0)")
            connection.username = grant.user_id
            connection.token_grant = grant  # the hub closes the socket when it stops holding
            connection.recover_since = since
            return None  # go on with the upgrade (a plain GET gets websockets' 426)
        if url.path in ("/", "/index.html"):
            return _response(
                http.HTTPStatus.OK,
                self._page,
                "text/html; charset=utf-8",
                Content_Security_Policy=CSP,
            )
        if url.path == "/whoami":
            try:
                user_id = self._user(url.query)
            except TokenError as exc:
                return _text(http.HTTPStatus.UNAUTHORIZED, str(exc))
            body = json.dumps({"user_id": user_id}).encode()
            return _response(http.HTTPStatus.OK, body, "application/json")
        if url.path.startswith(ACK_PATH):
            confirm = parse_qs(url.query).get("confirm") == ["yes"]
            page = self._ack_links.answer(url.path[len(ACK_PATH) :], confirm)
            return _response(
                page.status, page.html, "text/html; charset=utf-8", Content_Security_Policy=ACK_CSP
            )
        if url.path == "/healthz":
            return _text(http.HTTPStatus.OK, "ok")
        return _text(http.HTTPStatus.NOT_FOUND, "not found")
