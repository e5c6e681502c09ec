"""The sandbox's Discord and Slack webhooks and its control API, over real HTTP."""

from __future__ import annotations

import httpx
import pytest

from sandbox import (
    SandboxServer,
    discord_webhook_url,
    list_requests,
    reset,
    set_switch,
    slack_webhook_url,
)


def test_url_resolves_port_zero(server: SandboxServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_discord_ok_is_204_and_recorded(url: str, server: SandboxServer) -> None:
    hook = discord_webhook_url(url)
    response = httpx.post(hook, json={"content": "build passed"})
    assert response.status_code == 204
    assert response.content == b""
    (record,) = list_requests(url, provider="discord")
    assert record["method"] == "POST"
    assert record["path"] == hook.removeprefix(url)
    assert record["json"] == {"content": "build passed"}
    assert record["status"] == 204
    assert record["summary"] == "build passed"
    assert server.state.requests("discord")[0]["id"] == record["id"]


def test_discord_wait_true_returns_the_message(url: str) -> None:
    response = httpx.post(discord_webhook_url(url) + "?wait=true", json={"content": "hi"})
    assert response.status_code == 200
    assert response.json()["content"] == "hi"
    assert list_requests(url, "discord")[0]["query"] == {"wait": "true"}


def test_discord_embeds_only_is_accepted(url: str) -> None:
    body = {"embeds": [{"title": "Deploy", "description": "v2 is live"}]}
    assert httpx.post(discord_webhook_url(url), json=body).status_code == 204
    assert list_requests(url, "discord")[0]["summary"] == "Deploy\nv2 is live"


def test_discord_empty_message_is_400(url: str) -> None:
    response = httpx.post(discord_webhook_url(url), json={"username": "x"})
    assert response.status_code == 400
    assert response.json() == {"message": "Cannot send an empty message", "code": 50006}
    assert list_requests(url, "discord")[0]["status"] == 400


DISCORD_ERRORS = [
    ("server_error", 500, {"message": "Internal Server Error", "code": 0}),
    ("permanent", 404, {"message": "Unknown Webhook", "code": 10015}),
]


@pytest.mark.parametrize(("mode", "status", "body"), DISCORD_ERRORS)
def test_discord_error_switches(url: str, mode: str, status: int, body: dict) -> None:
    set_switch(url, "discord", mode)
    response = httpx.post(discord_webhook_url(url), json={"content": "x"})
    assert (response.status_code, response.json()) == (status, body)
    assert list_requests(url, "discord")[0]["status"] == status


def test_discord_rate_limit_has_header_and_body(url: str) -> None:
    set_switch(url, "discord", "rate_limit", retry_after=2.5)
    response = httpx.post(discord_webhook_url(url), json={"content": "x"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.json() == {
        "message": "You are being rate limited.",
        "retry_after": 2.5,
        "global": False,
    }


def test_slack_ok_is_200_text_ok(url: str) -> None:
    response = httpx.post(slack_webhook_url(url), json={"text": "deploy done"})
    assert (response.status_code, response.text) == (200, "ok")
    (record,) = list_requests(url, provider="slack")
    assert record["json"] == {"text": "deploy done"}
    assert record["summary"] == "deploy done"


def test_slack_blocks_only_and_form_payload_are_accepted(url: str) -> None:
    blocks = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]}
    assert httpx.post(slack_webhook_url(url), json=blocks).text == "ok"
    form = httpx.post(slack_webhook_url(url), data={"payload": '{"text": "from form"}'})
    assert (form.status_code, form.text) == (200, "ok")
    assert [r["summary"] for r in list_requests(url, "slack")] == ["*hi*", "from form"]


def test_slack_missing_text_is_400_no_text(url: str) -> None:
    response = httpx.post(slack_webhook_url(url), json={"username": "x"})
    assert (response.status_code, response.text) == (400, "no_text")


SLACK_ERRORS = [("server_error", 500, "internal_error"), ("permanent", 404, "no_service")]


@pytest.mark.parametrize(("mode", "status", "text"), SLACK_ERRORS)
def test_slack_error_switches(url: str, mode: str, status: int, text: str) -> None:
    set_switch(url, "slack", mode)
    response = httpx.post(slack_webhook_url(url), json={"text": "x"})
    assert (response.status_code, response.text) == (status, text)


def test_slack_rate_limit_rounds_retry_after_up(url: str) -> None:
    set_switch(url, "slack", "rate_limit", retry_after=0.2)
    response = httpx.post(slack_webhook_url(url), json={"text": "x"})
    assert (response.status_code, response.text) == (429, "rate_limited")
    assert response.headers["Retry-After"] == "1"


def test_times_applies_the_failure_then_goes_back_to_ok(url: str) -> None:
    set_switch(url, "slack", "server_error", times=1)
    hook = slack_webhook_url(url)
    assert httpx.post(hook, json={"text": "1"}).status_code == 500
    assert httpx.post(hook, json={"text": "2"}).status_code == 200
    assert httpx.get(url + "/_sandbox/switches").json()["slack"]["mode"] == "ok"
    assert [r["status"] for r in list_requests(url, "slack")] == [500, 200]


def test_switch_is_per_provider(url: str) -> None:
    set_switch(url, "discord", "permanent")
    assert httpx.post(slack_webhook_url(url), json={"text": "x"}).status_code == 200


def test_latency_switch_still_succeeds(url: str) -> None:
    set_switch(url, "discord", "ok", latency_ms=50)
    assert httpx.post(discord_webhook_url(url), json={"content": "slow"}).status_code == 204


def test_records_never_hold_the_authorization_header(url: str) -> None:
    secret = "Bearer very-secret-value"
    headers = {"Authorization": secret}
    httpx.post(discord_webhook_url(url), json={"content": "x"}, headers=headers)
    httpx.post(slack_webhook_url(url), json={"text": "x"}, headers=headers)
    listed = httpx.get(url + "/_sandbox/requests").text
    assert len(list_requests(url)) == 2
    assert "very-secret-value" not in listed
    assert "authorization" not in listed.lower()


def test_control_requests_are_not_recorded_and_reset_clears(url: str) -> None:
    httpx.get(url + "/_sandbox/switches")
    assert list_requests(url) == []
    httpx.post(slack_webhook_url(url), json={"text": "x"})
    set_switch(url, "slack", "permanent")
    reset(url)
    assert list_requests(url) == []
    assert httpx.get(url + "/_sandbox/switches").json()["slack"]["mode"] == "ok"


def test_bad_switch_is_400(url: str) -> None:
    response = httpx.post(url + "/_sandbox/switches", json={"provider": "nope", "mode": "ok"})
    assert response.status_code == 400
    with pytest.raises(httpx.HTTPStatusError):
        set_switch(url, "slack", "explode")
