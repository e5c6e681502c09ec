"""The one request path every provider endpoint shares: read and parse the body, take the
provider's switch, wait out its latency, let the provider answer, record the exchange.

A provider module writes `async def handle(incoming: Incoming) -> Response` and mounts it with
`endpoint(state, provider, handle)`; it looks at `incoming.switch["mode"]` to pick its answer.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from .state import SandboxState, default_switch
from .summary import summarize

__all__ = ["Handler", "Incoming", "endpoint", "parse_body", "retry_after_seconds"]


@dataclass(frozen=True, slots=True)
class Incoming:
    """One provider request, read: the parsed body and the switch in force for it."""

    request: Request
    #: Parsed JSON body, or the fields of a form body (str values), or None.
    json: Any
    #: The body as text.
    body: str
    #: The effective switch for this request (see `SandboxState.take`).
    switch: dict[str, Any]

    @property
    def mode(self) -> str:
        """The switch mode this request gets."""
        return str(self.switch["mode"])


Handler = Callable[[Incoming], Awaitable[Response]]


def parse_body(content_type: str, text: str) -> Any:
    """JSON (also when no content type says otherwise), URL-encoded form fields, or None."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(text, keep_blank_values=True))
    if kind.startswith("multipart/") or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def retry_after_seconds(switch: dict[str, Any]) -> int:
    """The switch's retry_after as whole seconds, rounded up (for Retry-After headers)."""
    return math.ceil(float(switch["retry_after"]))


def endpoint(
    state: SandboxState,
    provider: str,
    handle: Handler,
    switched: Callable[[Request], bool] | None = None,
) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint that runs `handle` inside the shared read / switch / record path.

    `switched(request)` False exempts a request from the provider's switch (it answers as "ok",
    at once, and does not count against `times`); by default every request is switched.
    """

    async def run(request: Request) -> Response:
        text = (await request.body()).decode("utf-8", "replace")
        payload = parse_body(request.headers.get("content-type", ""), text)
        exempt = switched is not None and not switched(request)
        switch = default_switch() if exempt else state.take(provider)
        if switch["latency_ms"] > 0:
            await asyncio.sleep(switch["latency_ms"] / 1000)
        response = await handle(Incoming(request=request, json=payload, body=text, switch=switch))
        state.record(
            provider=provider,
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            json=payload,
            body=text,
            status=response.status_code,
            summary=summarize(provider, request.url.path, payload),
        )
        return response

    return run
