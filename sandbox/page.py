"""The "what would have been sent" page: ``GET /`` lists every recorded delivery per provider,
newest first, with its message text (the record's summary) and the status the sandbox answered.

The list is rendered on the server, so a plain GET shows it; the page's script then refreshes it
every 2 s from ``GET /_sandbox/requests``. Self-contained: no external assets.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .state import DELIVERY_PROVIDERS, SandboxState

__all__ = ["SHOWN_PROVIDERS", "render", "routes"]

#: The providers that get a section, in page order (oauth tokens are no deliveries).
SHOWN_PROVIDERS = DELIVERY_PROVIDERS
#: The page template; __PROVIDERS__ and __PROVIDER_NAMES__ are filled in.
TEMPLATE = Path(__file__).with_name("page.html")


def _item(record: dict[str, Any]) -> str:
    when = dt.datetime.fromtimestamp(record["time"]).strftime("%H:%M:%S")
    state = "ok" if record["status"] < 300 else "failed"
    return (
        f'<li><div class="meta">{when} · <span class="{state}">{record["status"]}</span></div>'
        f"<pre>{html.escape(record['summary'])}</pre></li>"
    )


def _section(provider: str, records: list[dict[str, Any]]) -> str:
    mine = [r for r in reversed(records) if r["provider"] == provider]
    shown = [r for r in mine if r["summary"]]
    items = "".join(_item(r) for r in shown) or '<li class="empty">nothing yet</li>'
    other = len(mine) - len(shown)
    note = ""
    if other:
        note = f'<div class="other">{other} other request(s) without message text</div>'
    return (
        f'<section data-provider="{provider}"><h2>{provider}</h2><ol>{items}</ol>{note}</section>'
    )


def render(records: list[dict[str, Any]]) -> str:
    """The whole page for these records (oldest first, as the state lists them)."""
    sections = "".join(_section(p, records) for p in SHOWN_PROVIDERS)
    page = TEMPLATE.read_text(encoding="utf-8")
    page = page.replace("__PROVIDER_NAMES__", json.dumps(list(SHOWN_PROVIDERS)))
    return page.replace("__PROVIDERS__", sections)


def routes(state: SandboxState) -> list[Route]:
    """The page route over `state`; not recorded."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(render(state.requests()))

    return [Route("/", page, methods=["GET"])]
