"""The one-click acknowledgement links of email, push, Slack and Discord (`GET /ack/<signed>`).

Opening a link shows what it acknowledges and a "Got it" button; the button (the same link with
``?confirm=yes``) records the person's acknowledgement. Two steps because mail scanners and link
previews open every link in a message: an acknowledgement they made would stop the escalation
of a liquidation warning nobody read. A push app that acts on a tap calls the confirming URL at
once.

The link's token is checked three ways: its signature (channels/ack_links.py), then Redis (it
exists, is not used yet, has not expired), then it is taken (single use). The acknowledgement
counts for the channel the link was sent on.
"""

from __future__ import annotations

import html
import http
import logging
import time
from dataclasses import dataclass

from channels import read_ack_link
from logsetup import event_context
from store import HumanAcks

__all__ = ["AckLinks", "AckPage"]

log = logging.getLogger(__name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title>
<style>body {{ font: 16px system-ui, sans-serif; max-width: 32rem; margin: 3rem auto;
padding: 0 1rem; color: #1d2330; }} button {{ font-size: 18px; padding: 10px 22px; border: 0;
border-radius: 8px; background: #2f5bea; color: #fff; }}</style></head>
<body><h1>{title}</h1><p>{text}</p>{form}</body></html>
"""
_FORM = (
    '<form method="get" action="{action}"><input type="hidden" name="confirm" value="yes">'
    '<button type="submit">Got it</button></form>'
)


@dataclass(frozen=True, slots=True)
class AckPage:
    """An answer to a link: HTTP status and the page."""

    status: http.HTTPStatus
    html: bytes


def _page(status: http.HTTPStatus, title: str, text: str, form: str = "") -> AckPage:
    body = _PAGE.format(title=html.escape(title), text=html.escape(text), form=form)
    return AckPage(status, body.encode())


class AckLinks:
    """Answers the links: `secret` checks their signature, `human_acks` holds their tokens."""

    def __init__(self, secret: bytes, human_acks: HumanAcks) -> None:
        self._secret = secret
        self._acks = human_acks

    def answer(self, signed: str, confirm: bool) -> AckPage:
        token = read_ack_link(self._secret, signed)
        if token is None:
            return _page(http.HTTPStatus.NOT_FOUND, "Not a valid link", "This link is not valid.")
        grant = self._acks.peek(token)
        if grant is None:
            return _page(
                http.HTTPStatus.GONE,
                "Link used or expired",
                "This link was used already or has expired (each link works once).",
            )
        with event_context(grant.event_id, grant.user_id):
            earlier = self._acks.acked(grant.user_id, grant.event_id)
            if earlier is not None:
                return _page(http.HTTPStatus.OK, "Already acknowledged", _when(earlier, "was"))
            if not confirm:
                action = html.escape(signed, quote=True)
                return _page(
                    http.HTTPStatus.OK,
                    "Acknowledge this notification?",
                    f"Event {grant.event_id}: press the button to confirm you have seen it. "
                    "Until then we keep notifying you on your other channels.",
                    _FORM.format(action=action),
                )
            if self._acks.redeem(token) is None:  # another click took it meanwhile
                return _page(http.HTTPStatus.GONE, "Link used", "This link was used already.")
            self._acks.record(grant.user_id, grant.event_id, grant.channel)
            log.info("acknowledged by the person via link channel=%s", grant.channel)
            ack = self._acks.acked(grant.user_id, grant.event_id)
            return _page(http.HTTPStatus.OK, "Acknowledged", _when(ack, "is"))


def _when(ack, verb: str) -> str:
    if ack is None:
        return "Acknowledged."
    at = time.strftime("%H:%M:%S UTC", time.gmtime(ack.at))
    return f"This notification {verb} acknowledged (via {ack.channel}) at {at}."
