"""Telegram channel: the real PTB Bot against the sandbox Bot API, table-driven over its switches;
the PTB error map; HTML rendering."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from channels import Deps, Kind, Notice, Outcome, deliver
from channels import telegram as tg
from channels.telegram_client import TelegramClient
from proto import ChannelType
from sandbox import UNKNOWN_CHAT_ID, SandboxServer, telegram_api_url
from settings import Settings
from store import Store, UserProfile
from tests.helpers import closed_port_url, make_deps, make_notice, unique

#: A token easy to spot in any text that should not hold it.
TOKEN = "7654321:SECRET-tg-token-for-tests_abcdef"
SECRET = TOKEN.split(":", 1)[1]
CHAT = 424242

# PTB itself warns, when it builds a RetryAfter, that `retry_after` will become a timedelta.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


#: The payload of `notice()` unless it is given one.
REJECTED = {"side": "sell", "quantity": "2", "symbol": "ETH/USDT", "error_message": "no funds"}


def notice(**payload: object) -> Notice:
    """A CRITICAL ORDER_REJECTED with `payload`, else REJECTED."""
    return make_notice("ORDER_REJECTED", payload=payload or REJECTED)


def telegram_settings(settings: Settings, api_url: str, **changes: object) -> Settings:
    return settings.model_copy(
        update={"telegram_token": TOKEN, "telegram_api_url": api_url, **changes}
    )


def telegram_deps(
    settings: Settings, store: Store, http: httpx.Client, client: TelegramClient | None
) -> Deps:
    """Deps with this Telegram client (none: Telegram is not configured)."""
    clients = {ChannelType.TELEGRAM: client} if client is not None else {}
    return make_deps(settings, store, http, clients=clients)


@contextmanager
def own_client(settings: Settings, api_url: str, **changes: object) -> Iterator[TelegramClient]:
    """A client of the test's own (not the module's), closed afterwards."""
    client = tg.build_client(telegram_settings(settings, api_url, **changes))
    assert client is not None
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def client(sandbox: SandboxServer, settings: Settings) -> Iterator[TelegramClient]:
    """One client for the module, initialized (getMe) before any switch is set."""
    built = tg.build_client(telegram_settings(settings, telegram_api_url(sandbox.url)))
    assert built is not None
    sandbox.state.set_switch("telegram", "ok")
    built.initialize()
    yield built
    built.close()


@pytest.fixture
def deps(settings: Settings, store: Store, http: httpx.Client, client: TelegramClient) -> Deps:
    return telegram_deps(settings, store, http, client)


def assert_no_secret(outcome: Outcome) -> None:
    assert TOKEN not in outcome.detail
    assert SECRET not in outcome.detail
    assert "http://" not in outcome.detail


def sent_messages(sandbox: SandboxServer) -> list[dict]:
    return [r for r in sandbox.state.requests("telegram") if r["path"].endswith("/sendMessage")]


# -- send over the sandbox -------------------------------------------------------------------------

#: (switch mode, chat id, expected kind, words the detail must hold)
CASES = [
    pytest.param("ok", CHAT, Kind.DELIVERED, "message_id=", id="ok"),
    pytest.param("rate_limit", CHAT, Kind.RATE_LIMITED, "retry after 3", id="rate_limit"),
    pytest.param("server_error", CHAT, Kind.TRANSIENT, "internal server error", id="5xx"),
    pytest.param("permanent", CHAT, Kind.PERMANENT, "blocked", id="blocked"),
    pytest.param("ok", UNKNOWN_CHAT_ID, Kind.PERMANENT, "chat not found", id="chat_not_found"),
]


@pytest.mark.parametrize(("mode", "chat_id", "kind", "words"), CASES)
def test_switch_maps_to_outcome(
    mode: str, chat_id: int, kind: Kind, words: str, clean_sandbox: SandboxServer, deps: Deps
) -> None:
    clean_sandbox.state.set_switch("telegram", mode, retry_after=3)
    text = tg.CHANNEL.render(notice())

    outcome = tg.CHANNEL.send(text, str(chat_id), deps)

    assert outcome.kind == kind, outcome
    assert words in (outcome.receipt or outcome.detail).lower()
    assert_no_secret(outcome)
    if kind == Kind.RATE_LIMITED:
        assert outcome.retry_after_s == 3
    else:
        assert outcome.retry_after_s is None
    (record,) = sent_messages(clean_sandbox)
    assert record["path"] == f"/telegram/bot{TOKEN}/sendMessage"
    assert record["json"]["chat_id"] == str(chat_id)
    assert record["json"]["parse_mode"] == "HTML"
    assert record["json"]["text"] == text
    assert Outcome.from_dict(outcome.as_dict()) == outcome


def test_delivered_message_is_the_escaped_html(clean_sandbox: SandboxServer, deps: Deps) -> None:
    event = notice(side="buy", symbol="<b>&", quantity="1", error_message='say "hi" & <i>bye</i>')

    outcome = tg.CHANNEL.send(tg.CHANNEL.render(event), CHAT, deps)

    assert outcome.kind == Kind.DELIVERED
    assert outcome.receipt and outcome.receipt.startswith("telegram message_id=")
    (record,) = sent_messages(clean_sandbox)
    sent = record["json"]["text"]
    assert "&lt;b&gt;&amp;" in sent
    assert "say &quot;hi&quot; &amp; &lt;i&gt;bye&lt;/i&gt;" in sent
    assert sent.startswith("<b>Order rejected — BUY 1 &lt;b&gt;&amp;</b>")
    assert record["status"] == 200


def test_connection_refused_is_transient(
    settings: Settings, store: Store, http: httpx.Client
) -> None:
    with own_client(settings, closed_port_url()) as client:
        deps = telegram_deps(settings, store, http, client)
        outcome = tg.CHANNEL.send(tg.CHANNEL.render(notice()), CHAT, deps)

    assert outcome.kind == Kind.TRANSIENT, outcome
    assert "network error" in outcome.detail
    assert "127.0.0.1" not in outcome.detail
    assert_no_secret(outcome)


def test_a_failed_initialize_is_classified_then_retried(
    clean_sandbox: SandboxServer, settings: Settings, store: Store, http: httpx.Client
) -> None:
    with own_client(settings, telegram_api_url(clean_sandbox.url)) as client:
        deps = telegram_deps(settings, store, http, client)
        clean_sandbox.state.set_switch("telegram", "server_error", times=1)  # getMe fails
        first = tg.CHANNEL.send(tg.CHANNEL.render(notice()), CHAT, deps)
        second = tg.CHANNEL.send(tg.CHANNEL.render(notice()), CHAT, deps)

    assert first.kind == Kind.TRANSIENT
    assert second.kind == Kind.DELIVERED
    methods = [r["path"].rsplit("/", 1)[-1] for r in clean_sandbox.state.requests("telegram")]
    assert [m for m in methods if m != "getUpdates"] == ["getMe", "getMe", "sendMessage"]


def test_slow_provider_times_out_as_transient(
    clean_sandbox: SandboxServer, settings: Settings, store: Store, http: httpx.Client
) -> None:
    api_url = telegram_api_url(clean_sandbox.url)
    with own_client(settings, api_url, provider_timeout_s=0.2) as client:
        deps = telegram_deps(settings, store, http, client)
        client.initialize()
        clean_sandbox.state.set_switch("telegram", "ok", latency_ms=1500)
        outcome = tg.CHANNEL.send(tg.CHANNEL.render(notice()), CHAT, deps)

    assert outcome.kind == Kind.TRANSIENT, outcome
    assert "timeout" in outcome.detail
    assert_no_secret(outcome)


def test_without_a_token_there_is_no_client_and_send_is_permanent(
    settings: Settings, store: Store, http: httpx.Client
) -> None:
    assert tg.build_client(settings.model_copy(update={"telegram_token": ""})) is None
    deps = telegram_deps(settings, store, http, None)

    item = notice()
    profile = UserProfile(user_id=item.user_id, telegram_chat=str(CHAT))
    outcome = deliver(tg.CHANNEL, item, profile, deps)

    assert outcome.kind == Kind.PERMANENT
    assert outcome.detail == "telegram not configured: NOTIFY_TELEGRAM_TOKEN unset"


def test_a_closed_client_still_answers_with_an_outcome(
    sandbox: SandboxServer, settings: Settings, store: Store, http: httpx.Client
) -> None:
    client = tg.build_client(telegram_settings(settings, telegram_api_url(sandbox.url)))
    assert client is not None
    client.close()
    client.close()  # idempotent
    deps = telegram_deps(settings, store, http, client)

    outcome = tg.CHANNEL.send(tg.CHANNEL.render(notice()), CHAT, deps)

    assert outcome.kind == Kind.TRANSIENT
    assert outcome.detail.startswith("internal error:")


# -- the error map -----------------------------------------------------------------------------------

#: (makes the exception, kind, retry_after_s, words in the detail)
ERRORS = [
    pytest.param(lambda: RetryAfter(3), Kind.RATE_LIMITED, 3.0, "retry after 3", id="retry_after_int"),
    pytest.param(
        lambda: RetryAfter(dt.timedelta(seconds=2.5)), Kind.RATE_LIMITED, 2.5, "2.5", id="retry_after_td"
    ),
    pytest.param(lambda: Forbidden("Forbidden: bot was blocked by the user"), Kind.PERMANENT, None,
                 "blocked", id="forbidden"),
    pytest.param(lambda: BadRequest("Bad Request: chat not found"), Kind.PERMANENT, None,
                 "chat not found", id="bad_request"),
    pytest.param(lambda: ChatMigrated(-1001234), Kind.TRANSIENT, None, "chat migrated to -1001234",
                 id="migrated"),
    pytest.param(lambda: InvalidToken(f"The token `{TOKEN}` was rejected by the server."),
                 Kind.PERMANENT, None, "rejected the bot token", id="invalid_token"),
    pytest.param(lambda: TimedOut(), Kind.TRANSIENT, None, "timeout", id="timed_out"),
    pytest.param(lambda: NetworkError("httpx.ConnectError: All connection attempts failed"),
                 Kind.TRANSIENT, None, "network error", id="network"),
    pytest.param(lambda: NetworkError("Internal Server Error"), Kind.TRANSIENT, None,
                 "internal server error", id="5xx"),
    pytest.param(lambda: Conflict("Conflict: terminated by other getUpdates request"), Kind.TRANSIENT,
                 None, "conflict", id="conflict"),
    pytest.param(lambda: TelegramError("something new"), Kind.TRANSIENT, None, "something new",
                 id="telegram_other"),
    pytest.param(lambda: TimeoutError(), Kind.TRANSIENT, None, "timeout", id="call_timeout"),
    pytest.param(lambda: ValueError("boom"), Kind.TRANSIENT, None, "internal error: valueerror",
                 id="other"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "kind", "retry_after_s", "words"), ERRORS)
def test_classify(
    make: Callable[[], BaseException], kind: Kind, retry_after_s: float | None, words: str
) -> None:
    outcome = tg.classify(make())

    assert outcome.kind == kind
    assert outcome.retry_after_s == retry_after_s
    assert words in outcome.detail.lower()
    assert_no_secret(outcome)


def test_classify_drops_urls_that_carry_the_token() -> None:
    exc = NetworkError(f"httpx.ConnectError: failed for https://api.telegram.org/bot{TOKEN}/x")
    outcome = tg.classify(exc)
    assert outcome.kind == Kind.TRANSIENT
    assert_no_secret(outcome)
    assert "api.telegram.org" not in outcome.detail


def test_client_redacts_the_token_and_its_secret_half(
    client: TelegramClient,
) -> None:
    assert client.redact(f"a {TOKEN} b {SECRET} c") == "a <token> b <token> c"


def test_a_migrated_chat_comes_back_as_data_on_the_outcome() -> None:
    outcome = tg.classify(ChatMigrated(-1009876))

    assert (outcome.kind, outcome.moved_to) == (Kind.TRANSIENT, "-1009876")
    assert outcome.detail == "telegram chat migrated to -1009876; retrying there"
    assert Outcome.from_dict(outcome.as_dict()).moved_to == "-1009876"
    assert tg.classify(Forbidden("blocked")).moved_to is None


def test_is_active_reads_the_store(settings: Settings, store: Store, http: httpx.Client) -> None:
    user = unique("u")
    deps = telegram_deps(settings, store, http, None)
    assert tg.CHANNEL.is_active(user, deps) is False
    store.telegram.mark_active(user, 900)
    assert tg.CHANNEL.is_active(user, deps) is True


# -- render ----------------------------------------------------------------------------------------

_OUR_TAGS = re.compile(r"</?(b|i)>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#x27);")


def assert_valid_html(text: str) -> None:
    """Only our own tags, and every & starts an entity Telegram knows."""
    bare = _OUR_TAGS.sub("", text)
    assert "<" not in bare and ">" not in bare, text
    assert "&" not in _ENTITY.sub("", bare), text


def test_render_escapes_every_user_string() -> None:
    payload = {"strategy_name": "<b>&", "log_level": "warn", "message": "x < y & 'z' > \"w\""}
    event = make_notice("STRATEGY_LOG", "NORMAL", payload, event_id="e-<1>&")

    text = tg.CHANNEL.render(event)

    assert_valid_html(text)
    assert text.startswith("<b>Strategy log — &lt;b&gt;&amp;: [WARN] x &lt; y &amp; ")
    assert "&#x27;z&#x27; &gt; &quot;w&quot;" in text
    assert text.endswith("<i>NORMAL · e-&lt;1&gt;&amp;</i>")


def test_render_has_title_lines_and_footer() -> None:
    event = notice(side="sell", quantity="2", symbol="ETH/USDT", error_message="no funds")

    text = tg.CHANNEL.render(event)

    lines = text.split("\n")
    assert lines[0] == "<b>Order rejected — SELL 2 ETH/USDT</b>"
    assert "Error: no funds" in lines
    assert lines[-2] == ""
    assert lines[-1] == f"<i>CRITICAL · {event.event_id}</i>"


@pytest.mark.parametrize("filler", ["&", "x", "😀", "<>"])
def test_render_stays_within_4096_and_well_formed(filler: str) -> None:
    payload = {
        "symbol": filler * 5000,
        "error_message": filler * 9000,
        "order_id": "o-1",
        "strategy_id": filler * 3000,
    }
    event = make_notice("ORDER_REJECTED", "CRITICAL", payload, event_id="e1")

    text = tg.CHANNEL.render(event)

    assert len(text) <= tg.MAX_TEXT
    assert len(text.encode("utf-16-le")) // 2 <= tg.MAX_TEXT
    assert_valid_html(text)
    assert text.endswith("<i>CRITICAL · e1</i>")
    assert "…" in text


def test_render_is_exact_for_a_short_event() -> None:
    event = notice(symbol="A&B")
    assert html.escape("A&B") in tg.CHANNEL.render(event)


def test_retry_after_as_a_timedelta_when_ptb_is_told_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    outcome = tg.classify(RetryAfter(4))
    assert (outcome.kind, outcome.retry_after_s) == (Kind.RATE_LIMITED, 4.0)
