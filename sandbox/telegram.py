"""The Telegram Bot API, as much of it as the notifier uses, answered the Bot API way.

Endpoint: ``GET|POST /telegram/bot{token}/{method}``, parameters as a JSON body, a form or the
query string. Clients use the API root ``<sandbox>/telegram`` (PTB: ``base_url=<root>/bot``, PTB
appends the token). Any token is accepted. Methods:

- ``getMe``: the sandbox bot (`BOT`).
- ``sendMessage``: a Message with ``message_id``, ``date``, ``chat``, ``text`` (with
  ``parse_mode=HTML``: the plain text and its ``entities``, as Telegram keeps them; a tag it does
  not support -> 400 ``can't parse entities``), ``reply_markup`` when given. A chat is known
  unless its id is `UNKNOWN_CHAT_ID` or not an integer (an ``@username`` is known only once a user
  with that username wrote to the bot); unknown -> 400 ``Bad Request: chat not found``.
- ``editMessageText``: a message the bot sent to that chat gets the new text (``edit_date``) and
  the new ``reply_markup`` (none given: its inline keyboard is removed, as Telegram does); 400
  ``message to edit not found`` for another, ``message is not modified`` for the same text.
- ``answerCallbackQuery``: ``true`` (a button press from ``POST /_sandbox/telegram/callbacks``).
- ``getUpdates``: the updates queued by ``POST /_sandbox/telegram/updates`` with update_id >=
  ``offset`` (lower ones are confirmed and dropped, as in the Bot API); ``timeout`` long-polls up
  to `MAX_POLL_S`. Never switched, so a polling bot does not use up a switch's ``times``.
- ``deleteWebhook``, ``setMyCommands``, ... (`TRUE_METHODS`): ``true``. Others: 404 Not Found.

Every answer is ``{"ok": true, "result": ...}``; errors by switch mode:

============  ======================================================================
rate_limit    429 ``{"ok": false, "error_code": 429, "description": "Too Many Requests:
              retry after N", "parameters": {"retry_after": N}}`` (N whole seconds >= 1)
server_error  500 ``{"ok": false, "error_code": 500, "description": "Internal Server Error"}``
permanent     403 ``{"ok": false, "error_code": 403, "description": "Forbidden: bot was
              blocked by the user"}``
============  ======================================================================
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .recording import Incoming, endpoint, retry_after_seconds
from .state import SandboxState
from .telegram_html import parse_html, utf16_len

__all__ = ["BOT", "MAX_POLL_S", "PREFIX", "TRUE_METHODS", "UNKNOWN_CHAT_ID", "routes"]

#: The API root on the sandbox (NOTIFY_TELEGRAM_API_URL); PTB's base_url is PREFIX + "/bot".
PREFIX = "/telegram"
#: What getMe answers.
BOT = {
    "id": 1000001,
    "is_bot": True,
    "first_name": "Notify Sandbox",
    "username": "notify_sandbox_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
#: sendMessage to this chat answers "Bad Request: chat not found".
UNKNOWN_CHAT_ID = -404
#: getUpdates waits at most this long for an update, whatever `timeout` asks.
MAX_POLL_S = 10.0
#: Methods that only answer `true` here.
TRUE_METHODS = frozenset(
    {
        "deleteWebhook",
        "setWebhook",
        "setMyCommands",
        "deleteMyCommands",
        "close",
        "logOut",
        "answerCallbackQuery",
    }
)
#: The Bot API's limit on a message's text.
MAX_TEXT_CHARS = 4096


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(code: int, description: str, **parameters: Any) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


def _params(incoming: Incoming) -> dict[str, Any]:
    params: dict[str, Any] = dict(incoming.request.query_params)
    if isinstance(incoming.json, dict):
        params.update(incoming.json)
    return params


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _content(params: dict[str, Any]) -> dict[str, Any]:
    """A message's text, entities and keyboard from sendMessage/editMessageText parameters;
    EntityError or ValueError with the Bot API's description when refused."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("Bad Request: message text is empty")
    content: dict[str, Any] = {"text": text}
    if str(params.get("parse_mode", "")).upper() == "HTML":
        plain, entities = parse_html(text)
        content = {"text": plain} | ({"entities": entities} if entities else {})
    if utf16_len(content["text"]) > MAX_TEXT_CHARS:
        raise ValueError("Bad Request: message is too long")
    markup = params.get("reply_markup")
    if isinstance(markup, str):  # a form or query string carries it as JSON text
        try:
            markup = json.loads(markup)
        except ValueError:
            raise ValueError("Bad Request: can't parse reply keyboard markup JSON object") from None
    if markup:
        content["reply_markup"] = markup
    return content


def _chat(state: SandboxState, chat_id: Any) -> dict[str, Any] | None:
    if isinstance(chat_id, str) and chat_id.startswith("@"):
        return state.chat_by_username(chat_id[1:])
    try:
        number = int(chat_id)
    except (TypeError, ValueError):
        return None
    if number == UNKNOWN_CHAT_ID:
        return None
    known = state.chat(number)
    return known or {"id": number, "type": "private", "first_name": "Sandbox User"}


async def _send_message(state: SandboxState, params: dict[str, Any]) -> Response:
    chat = _chat(state, params.get("chat_id"))
    if chat is None:
        return _error(400, "Bad Request: chat not found")
    try:
        content = _content(params)
    except ValueError as exc:
        return _error(400, str(exc))
    message = {
        "message_id": state.next_message_id(),
        "date": int(time.time()),
        "chat": chat,
        "from": {k: BOT[k] for k in ("id", "is_bot", "first_name", "username")},
        **content,
    }
    state.keep_sent(message)
    return _ok(message)


async def _edit_message_text(state: SandboxState, params: dict[str, Any]) -> Response:
    """editMessageText of a message the bot sent to that chat: Telegram's own answers."""
    message = state.sent(_int(params.get("message_id"), 0))
    chat = _chat(state, params.get("chat_id"))
    if message is None or chat is None or message["chat"]["id"] != chat["id"]:
        return _error(400, "Bad Request: message to edit not found")
    try:
        content = _content(params)
    except ValueError as exc:
        return _error(400, str(exc))
    shown = ("text", "entities", "reply_markup")
    if all(content.get(k) == message.get(k) for k in shown):
        return _error(400, "Bad Request: message is not modified: the new text is the same")
    for key in shown:
        message.pop(key, None)
    message |= content | {"edit_date": int(time.time())}
    state.keep_sent(message)
    return _ok(message)


async def _get_updates(state: SandboxState, params: dict[str, Any]) -> Response:
    offset = _int(params.get("offset"), 0)
    limit = _int(params.get("limit"), 100)
    wait_s = min(max(0.0, float(_int(params.get("timeout"), 0))), MAX_POLL_S)
    deadline = time.monotonic() + wait_s
    updates = state.updates(offset, limit)
    while not updates and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        updates = state.updates(offset, limit)
    return _ok(updates)


def routes(state: SandboxState) -> list[Route]:
    """The Bot API route, recording into `state`."""

    async def handle(incoming: Incoming) -> Response:
        if incoming.mode == "rate_limit":
            seconds = max(1, retry_after_seconds(incoming.switch))
            return _error(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)
        if incoming.mode == "server_error":
            return _error(500, "Internal Server Error")
        if incoming.mode == "permanent":
            return _error(403, "Forbidden: bot was blocked by the user")
        method = incoming.request.path_params["method"]
        params = _params(incoming)
        if method == "getMe":
            return _ok(BOT)
        if method == "sendMessage":
            return await _send_message(state, params)
        if method == "editMessageText":
            return await _edit_message_text(state, params)
        if method == "getUpdates":
            return await _get_updates(state, params)
        if method in TRUE_METHODS:
            return _ok(True)
        return _error(404, "Not Found")

    def switched(request: Request) -> bool:
        return request.path_params.get("method") != "getUpdates"

    return [
        Route(
            PREFIX + "/bot{token}/{method}",
            endpoint(state, "telegram", handle, switched),
            methods=["GET", "POST"],
        )
    ]
