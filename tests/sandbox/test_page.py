"""The "what would have been sent" page shows recorded message text, server-side rendered."""

from __future__ import annotations

import httpx

from sandbox import (
    discord_webhook_url,
    list_requests,
    set_switch,
    slack_webhook_url,
    telegram_api_url,
)


def test_page_is_self_contained_html(url: str) -> None:
    response = httpx.get(url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "/_sandbox/requests" in page
    assert "setInterval(refresh, 2000)" in page
    assert "http://" not in page and "https://" not in page
    assert page.count('<li class="empty">nothing yet</li>') == 5


def test_page_lists_recorded_text_newest_first(url: str) -> None:
    httpx.post(discord_webhook_url(url), json={"content": "first <deploy>"})
    httpx.post(discord_webhook_url(url), json={"embeds": [{"title": "second", "description": "d"}]})
    httpx.post(slack_webhook_url(url), json={"text": "slack says hi"})
    bot = telegram_api_url(url) + "/bot1:token"
    httpx.post(bot + "/sendMessage", data={"chat_id": "5", "text": "telegram text"})
    httpx.post(bot + "/getUpdates", data={"timeout": "0"})
    mail = {
        "personalizations": [{"to": [{"email": "a@example.com"}]}],
        "from": {"email": "n@example.com"},
        "subject": "Mail subject",
        "content": [{"type": "text/plain", "value": "mail body"}],
    }
    httpx.post(url + "/sendgrid/v3/mail/send", json=mail)
    set_switch(url, "fcm", "server_error")
    push = {"message": {"token": "t", "notification": {"title": "Push title", "body": "pb"}}}
    httpx.post(url + "/fcm/v1/projects/p/messages:send", json=push)
    assert len(list_requests(url)) == 7

    page = httpx.get(url + "/").text
    assert "first &lt;deploy&gt;" in page
    assert page.index("second\nd") < page.index("first &lt;deploy&gt;")
    for text in ("slack says hi", "telegram text", "Mail subject\nmail body", "Push title\npb"):
        assert text in page
    assert '<span class="failed">500</span>' in page
    assert "1 other request(s) without message text" in page
    assert len(list_requests(url)) == 7  # the page itself is not recorded
