"""Each provider's real SDK against the sandbox: python-telegram-bot, sendgrid, pyfcm (with
google-auth fetching its token from the sandbox's OAuth endpoint)."""

from __future__ import annotations

import asyncio
import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import pytest
import requests
import telegram
from pyfcm import FCMNotification
from pyfcm.errors import (
    FCMNotRegisteredError,
    FCMSenderIdMismatchError,
    FCMServerError,
    InvalidDataError,
)
from python_http_client import exceptions as sg_errors
from requests.adapters import HTTPAdapter
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail

from sandbox import (
    UNKNOWN_CHAT_ID,
    fcm_endpoint,
    inject_telegram_message,
    list_requests,
    sendgrid_host,
    service_account_file,
    set_switch,
    telegram_api_url,
)

TOKEN = "123456:sandbox-test-token"


# -- Telegram: python-telegram-bot ---------------------------------------------------------------


def _bot(url: str) -> telegram.Bot:
    return telegram.Bot(TOKEN, base_url=telegram_api_url(url) + "/bot")


def _send(url: str, chat_id: int | str, text: str) -> telegram.Message:
    async def go() -> telegram.Message:
        async with _bot(url) as bot:
            return await bot.send_message(chat_id=chat_id, text=text)

    return asyncio.run(go())


def test_telegram_initialize_and_send_message(url: str) -> None:
    async def go() -> tuple[telegram.User, telegram.Message]:
        async with _bot(url) as bot:
            return bot.bot, await bot.send_message(chat_id=42, text="<b>hi</b>", parse_mode="HTML")

    me, message = asyncio.run(go())
    assert (me.id, me.username) == (1000001, "notify_sandbox_bot")
    # As Telegram does: the plain text and its entities, the HTML rebuilt from them.
    assert (message.chat.id, message.text, message.text_html) == (42, "hi", "<b>hi</b>")
    assert message.message_id > 0
    sent = [r for r in list_requests(url, "telegram") if r["path"].endswith("/sendMessage")]
    assert sent[0]["json"]["text"] == "<b>hi</b>"
    assert sent[0]["json"]["parse_mode"] == "HTML"
    assert sent[0]["summary"] == "<b>hi</b>"
    assert sent[0]["path"] == f"/telegram/bot{TOKEN}/sendMessage"


def test_telegram_unknown_chat_is_bad_request(url: str) -> None:
    with pytest.raises(telegram.error.BadRequest, match="(?i)chat not found"):
        _send(url, UNKNOWN_CHAT_ID, "x")


def test_telegram_get_updates_returns_injected_start(url: str) -> None:
    inject_telegram_message(url, chat_id=777, text="/start link-token_1", username="newcomer")

    async def go() -> tuple[list[telegram.Update], list[telegram.Update]]:
        async with _bot(url) as bot:
            first = await bot.get_updates(timeout=1)
            after = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
            return list(first), list(after)

    first, after = asyncio.run(go())
    assert len(first) == 1
    message = first[0].message
    assert (message.chat.id, message.text, message.from_user.username) == (
        777,
        "/start link-token_1",
        "newcomer",
    )
    assert message.entities[0].type == "bot_command"
    assert after == []


def test_telegram_long_poll_wakes_on_injected_update(url: str) -> None:
    async def go() -> list[telegram.Update]:
        async with _bot(url) as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=8))
            await asyncio.sleep(0.3)
            await asyncio.to_thread(inject_telegram_message, url, 5, "hello")
            return list(await poll)

    updates = asyncio.run(go())
    assert [u.message.text for u in updates] == ["hello"]


def _retry_after(exc: telegram.error.RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_telegram_rate_limit_is_retry_after(url: str) -> None:
    async def go() -> None:
        async with _bot(url) as bot:  # getMe while ok
            await asyncio.to_thread(set_switch, url, "telegram", "rate_limit", 0, 2.2)
            await bot.send_message(chat_id=1, text="x")

    with pytest.raises(telegram.error.RetryAfter) as caught:
        asyncio.run(go())
    assert _retry_after(caught.value) == 3


TELEGRAM_ERRORS = [
    ("server_error", telegram.error.NetworkError, "Internal Server Error"),
    ("permanent", telegram.error.Forbidden, "bot was blocked by the user"),
]


@pytest.mark.parametrize(("mode", "error", "text"), TELEGRAM_ERRORS)
def test_telegram_error_switches(url: str, mode: str, error: type, text: str) -> None:
    set_switch(url, "telegram", mode)
    with pytest.raises(error, match=text):
        _send(url, 1, "x")


def test_telegram_times_then_ok_and_get_updates_is_not_switched(url: str) -> None:
    async def go() -> str:
        async with _bot(url) as bot:
            await asyncio.to_thread(set_switch, url, "telegram", "server_error", 0, 1.0, 1)
            await bot.get_updates(timeout=0)  # not switched: does not use up `times`
            with pytest.raises(telegram.error.NetworkError):
                await bot.send_message(chat_id=1, text="first")
            return (await bot.send_message(chat_id=1, text="second")).text

    assert asyncio.run(go()) == "second"
    statuses = [(r["path"].rsplit("/", 1)[1], r["status"]) for r in list_requests(url, "telegram")]
    assert statuses[1:] == [("getUpdates", 200), ("sendMessage", 500), ("sendMessage", 200)]


# -- SendGrid: sendgrid.SendGridAPIClient --------------------------------------------------------


def _mail() -> Mail:
    return Mail(
        from_email="notify@example.com",
        to_emails="user@example.com",
        subject="Your order shipped",
        plain_text_content="It is on its way.",
        html_content="<p>It is on its way.</p>",
    )


def _sendgrid(url: str) -> SendGridAPIClient:
    return SendGridAPIClient("SG.sandbox-key", host=sendgrid_host(url))


def test_sendgrid_send_is_202_and_recorded(url: str) -> None:
    response = _sendgrid(url).send(_mail())
    assert response.status_code == 202
    assert response.headers["X-Message-Id"]
    (record,) = list_requests(url, "sendgrid")
    assert record["path"] == "/sendgrid/v3/mail/send"
    assert record["json"]["subject"] == "Your order shipped"
    assert record["summary"] == "Your order shipped\nIt is on its way."


def test_sendgrid_incomplete_body_is_400_with_fields(url: str) -> None:
    with pytest.raises(sg_errors.BadRequestsError) as caught:
        _sendgrid(url).client.mail.send.post(request_body={"personalizations": []})
    errors = caught.value.to_dict["errors"]
    assert {e["field"] for e in errors} == {"personalizations", "from.email", "subject", "content"}
    assert all(e["help"] is None for e in errors)


def test_sendgrid_rate_limit(url: str) -> None:
    set_switch(url, "sendgrid", "rate_limit", retry_after=4)
    with pytest.raises(sg_errors.TooManyRequestsError) as caught:
        _sendgrid(url).send(_mail())
    assert caught.value.headers["Retry-After"] == "4"
    assert int(caught.value.headers["X-RateLimit-Reset"]) > 0
    assert caught.value.to_dict["errors"][0]["message"] == "too many requests"


SENDGRID_ERRORS = [
    ("server_error", sg_errors.InternalServerError),
    ("permanent", sg_errors.UnauthorizedError),
]


@pytest.mark.parametrize(("mode", "error"), SENDGRID_ERRORS)
def test_sendgrid_error_switches(url: str, mode: str, error: type) -> None:
    set_switch(url, "sendgrid", mode)
    with pytest.raises(error):
        _sendgrid(url).send(_mail())


# -- FCM: pyfcm, with google-auth's token request going to the sandbox ---------------------------


def _fcm(url: str, directory: Path) -> FCMNotification:
    class SandboxFCM(FCMNotification):
        """pyfcm pointed at the sandbox, one POST per send (no SDK sleeps or retries)."""

        FCM_END_POINT_BASE = fcm_endpoint(url) + "/v1/projects"

        def send_request(self, payload: Any = None, timeout: Any = None) -> requests.Response:
            return self.requests_session.post(self.fcm_end_point, data=payload, timeout=timeout)

    credentials = service_account_file(url, directory)
    return SandboxFCM(service_account_file=str(credentials), adapter=HTTPAdapter(max_retries=0))


def test_fcm_notify_gets_oauth_token_then_sends(url: str, tmp_path: Path) -> None:
    result = _fcm(url, tmp_path).notify(
        fcm_token="device-1", notification_title="Hello", notification_body="World", timeout=5
    )
    assert result["name"].startswith("projects/notify-sandbox/messages/")
    (token_request,) = list_requests(url, "oauth")
    assert token_request["json"]["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert token_request["status"] == 200
    (send,) = list_requests(url, "fcm")
    assert send["path"] == "/fcm/v1/projects/notify-sandbox/messages:send"
    assert send["json"]["message"]["token"] == "device-1"
    assert send["summary"] == "Hello\nWorld"


FCM_TOKEN_ERRORS = [
    ("unregistered-device", FCMNotRegisteredError, 404, "UNREGISTERED"),
    ("invalid-device", InvalidDataError, 400, "INVALID_ARGUMENT"),
]


@pytest.mark.parametrize(("token", "error", "status", "code"), FCM_TOKEN_ERRORS)
def test_fcm_token_errors(
    url: str, tmp_path: Path, token: str, error: type, status: int, code: str
) -> None:
    with pytest.raises(error):
        _fcm(url, tmp_path).notify(fcm_token=token, notification_title="t", timeout=5)
    (send,) = list_requests(url, "fcm")
    assert send["status"] == status
    fcm = _fcm(url, tmp_path)
    response = fcm.send_request(fcm.parse_payload(fcm_token=token, notification_title="t"), 5)
    detail = response.json()["error"]["details"][0]
    assert detail["@type"] == "type.googleapis.com/google.firebase.fcm.v1.FcmError"
    assert detail["errorCode"] == code


FCM_SWITCH_ERRORS = [
    ("rate_limit", FCMServerError, 429, "QUOTA_EXCEEDED"),
    ("server_error", FCMServerError, 500, "INTERNAL"),
    ("permanent", FCMSenderIdMismatchError, 403, "SENDER_ID_MISMATCH"),
]


@pytest.mark.parametrize(("mode", "error", "status", "code"), FCM_SWITCH_ERRORS)
def test_fcm_error_switches(
    url: str, tmp_path: Path, mode: str, error: type, status: int, code: str
) -> None:
    fcm = _fcm(url, tmp_path)
    set_switch(url, "fcm", mode, retry_after=1.5)
    response = fcm.send_request(fcm.parse_payload(fcm_token="device", notification_title="t"), 5)
    assert response.status_code == status
    assert response.json()["error"]["details"][0]["errorCode"] == code
    if mode == "rate_limit":
        assert response.headers["Retry-After"] == "2"
    with pytest.raises(error):
        fcm.parse_response(response)


def test_fcm_without_bearer_is_401(url: str) -> None:
    response = requests.post(
        fcm_endpoint(url) + "/v1/projects/p/messages:send",
        json={"message": {"token": "t"}},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_oauth_permanent_switch_fails_the_token_fetch(url: str, tmp_path: Path) -> None:
    set_switch(url, "oauth", "permanent")
    with pytest.raises(InvalidDataError, match="invalid_grant"):
        _fcm(url, tmp_path).notify(fcm_token="device", notification_title="t", timeout=5)
    assert list_requests(url, "fcm") == []
