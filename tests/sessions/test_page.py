"""The session page in a real headless Chromium (Debian's chromium + chromedriver, via selenium):
it logs in with the token, shows a delivered notification and acks it into Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from client import make_event
from sessions import load_secret, make_token
from tests.helpers import browser as open_browser
from tests.helpers import headless_chromium, wait_until

#: Generous: a cold browser on a loaded CI machine. Only ever an upper bound, never asserted on.
WAIT_S = 30


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    with headless_chromium() as driver:
        yield driver


def status_of(driver: webdriver.Chrome) -> tuple[str, str]:
    element = driver.find_element(By.ID, "status")
    return element.get_attribute("data-state"), element.text


def wait_for_status(driver: webdriver.Chrome, state: str) -> str:
    WebDriverWait(driver, WAIT_S).until(
        lambda d: status_of(d)[0] == state, f"page status never became {state!r}"
    )
    return status_of(driver)[1]


def test_page_shows_and_acks_a_delivered_notification(
    browser, session_server, client, store, token_for, new_id
):
    user = new_id("page")
    browser.get(f"{session_server.url}/?token={token_for(user)}")
    assert wait_for_status(browser, "connected") == f"connected as {user}"
    wait_until(lambda: store.presence.is_present(user), "presence from the browser", WAIT_S)

    event = make_event(
        user,
        "ORDER_FILLED",
        "INFORMATIONAL",
        payload={
            "symbol": "BTC/USDT",
            "side": "buy",
            "fill_quantity": "0.5",
            "fill_price": "50000.10",
        },
    )
    client.send(event)

    selector = f'li[data-event-id="{event.event_id}"][data-acked="true"]'
    item = WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, selector), "notification never shown as acked"
    )[0]
    title = item.find_element(By.CLASS_NAME, "title").text
    assert "BUY 0.5 BTC/USDT @ 50000.10" in title
    assert item.find_element(By.CLASS_NAME, "badge").text == "INFORMATIONAL"
    assert "acked" in item.find_element(By.CLASS_NAME, "ack").text
    assert store.client.get(store.keys.web_ack(user, event.event_id)) is not None

    second = make_event(user, "STRATEGY_LOG", "INFORMATIONAL", payload={"message": "second one"})
    client.send(second)
    WebDriverWait(browser, WAIT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'li[data-event-id="{second.event_id}"]'),
        "second notification never shown",
    )
    shown = [
        li.get_attribute("data-event-id")
        for li in browser.find_elements(By.CSS_SELECTOR, "li.notice")
    ]
    assert shown[:2] == [second.event_id, event.event_id], "newest first"


def test_page_says_why_a_token_is_refused(browser, session_server, settings, store, new_id):
    expired = make_token(load_secret(settings, store), new_id("late"), ttl_s=60, now=1_000_000)
    browser.get(f"{session_server.url}/?token={expired}")
    wait_for_status(browser, "refused")
    assert "expired token" in browser.find_element(By.ID, "error").text


def test_page_accepts_a_pasted_token(browser, session_server, store, token_for, new_id):
    user = new_id("pasted")
    browser.get(f"{session_server.url}/")
    WebDriverWait(browser, WAIT_S).until(
        lambda d: "No token" in d.find_element(By.ID, "error").text, "no-token hint never shown"
    )
    browser.find_element(By.ID, "token").send_keys(token_for(user))
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    assert wait_for_status(browser, "connected") == f"connected as {user}"
    wait_until(lambda: store.presence.is_present(user), "presence from the pasted token", WAIT_S)


def test_page_shows_an_update_in_place_of_the_earlier_one(
    browser, session_server, client, store, token_for, new_id
):
    user = new_id("inplace")
    browser.get(f"{session_server.url}/?token={token_for(user)}")
    assert wait_for_status(browser, "connected") == f"connected as {user}"
    wait_until(lambda: store.presence.is_present(user), "presence from the browser", WAIT_S)
    events = [
        make_event(user, "POSITION_UPDATED", "INFORMATIONAL",
                   payload={"position_id": "p-1", "symbol": "ETH/USDT", "side": "long", "size": size})
        for size in ("1", "2")
    ]  # fmt: skip
    for event in events:
        client.send(event)
        WebDriverWait(browser, WAIT_S).until(
            lambda d, e=event: d.find_elements(
                By.CSS_SELECTOR, f'li[data-event-id="{e.event_id}"]'
            ),
            "update never shown",
        )
    shown = browser.find_elements(By.CSS_SELECTOR, 'li[data-key="position:p-1"]')
    assert [li.get_attribute("data-event-id") for li in shown] == [events[1].event_id]
    assert shown[0].get_attribute("data-updated") == "true"
    assert "updated" in shown[0].find_element(By.CLASS_NAME, "meta").text


def test_page_reconnects_with_its_offset_and_shows_what_it_missed(
    browser, session_server, client, store, token_for, new_id
):
    user = new_id("away")
    token = token_for(user)
    browser.get(f"{session_server.url}/?token={token}")
    assert wait_for_status(browser, "connected") == f"connected as {user}"
    seen = make_event(user, "STRATEGY_LOG", "INFORMATIONAL", payload={"message": "before"})
    missed = make_event(user, "STRATEGY_LOG", "INFORMATIONAL", payload={"message": "while away"})
    # A second session keeps the user subscribed while the page's socket is down.
    with open_browser(session_server.ws_url, token) as other:
        client.send(seen)
        WebDriverWait(browser, WAIT_S).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, f'li[data-event-id="{seen.event_id}"]'),
            "first notification never shown",
        )
        _drop_page_socket(session_server, user, keep=other.socket.getsockname()[1])
        client.send(missed)  # the page reconnects after a second: this one it missed
        kept = store.keys.history_seen(user, missed.event_id)
        wait_until(lambda: store.client.exists(kept), "the missed event in the history", WAIT_S)
        selector = f'li[data-event-id="{missed.event_id}"][data-recovered="true"]'
        item = WebDriverWait(browser, WAIT_S).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, selector), "missed event never recovered"
        )[0]
        assert "missed while away" in item.find_element(By.CLASS_NAME, "meta").text
        assert wait_for_status(browser, "connected") == f"connected as {user}"
        wait_until(
            lambda: store.client.get(store.keys.web_ack(user, missed.event_id)) is not None,
            "the recovered event acked",
            WAIT_S,
        )
    shown = [
        li.get_attribute("data-event-id")
        for li in browser.find_elements(By.CSS_SELECTOR, "li.notice")
    ]
    assert shown[:2] == [missed.event_id, seen.event_id] and len(set(shown)) == len(shown)


def _drop_page_socket(server, user: str, keep: int) -> None:
    """Close, from the server's side, every socket of `user` but the one from port `keep`."""
    hub = server.hub

    def close() -> None:
        for session in list(hub._users[user].sessions):
            if session.connection.remote_address[1] != keep:
                session.close(1013, "dropped by the test")

    server._loop.call_soon_threadsafe(close)
