"""Quiet hours as a user's clock reads them (pure: no I/O), and what a digest says."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from channels import Notice, digest_item, digest_notice, summarize
from tasks.quiet_hours import QuietHours, QuietHoursError

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


@pytest.mark.parametrize(
    ("now", "ends"),
    [
        ("2026-12-05 23:30", "2026-12-06 07:00"),  # after the start: ends tomorrow
        ("2026-12-06 06:59", "2026-12-06 07:00"),  # before the end: ends today
        ("2026-12-05 23:00", "2026-12-06 07:00"),  # the start is in
        ("2026-12-06 07:00", None),  # the end is out
        ("2026-12-05 12:00", None),
    ],
)
def test_a_window_across_midnight(now, ends):
    quiet = QuietHours.parse("23:00-07:00", "Europe/Berlin")
    assert quiet.ends_at(at(now)) == (at(ends) if ends else None)


def test_a_window_within_one_day_and_the_default_zone():
    quiet = QuietHours.parse("12:00-13:30")
    utc = ZoneInfo("UTC")
    assert quiet.ends_at(at("2026-12-05 12:10", utc)) == at("2026-12-05 13:30", utc)
    assert quiet.ends_at(at("2026-12-05 13:30", utc)) is None
    assert quiet.ends_at(at("2026-12-05 11:59", utc)) is None


def test_the_end_is_read_in_the_users_zone_across_a_dst_change():
    # Berlin moves to summer time on 2027-03-28 at 02:00: that night is an hour shorter.
    quiet = QuietHours.parse("23:00-07:00", "Europe/Berlin")
    ends = quiet.ends_at(at("2027-03-27 23:30"))
    assert ends == at("2027-03-28 07:00") and ends - at("2027-03-27 23:30") == 6.5 * 3600


@pytest.mark.parametrize(
    ("window", "zone", "problem"),
    [
        ("23:00-7:00", "", "HH:MM-HH:MM"),
        ("24:00-07:00", "", "HH:MM-HH:MM"),
        ("07:00-07:00", "", "same time"),
        ("23:00-07:00", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("23:00-07:00", "../etc", "unknown time zone"),
    ],
)
def test_bad_windows_and_zones_are_refused_with_a_reason(window, zone, problem):
    with pytest.raises(QuietHoursError, match=problem):
        QuietHours.parse(window, zone)


def test_a_digest_counts_what_it_holds_by_kind_and_source():
    def notice(event_type: str, **payload) -> Notice:
        return Notice("u", f"e-{event_type}", event_type, "NORMAL", 1, payload)

    logs = [notice("STRATEGY_LOG", strategy_name="Grid BTC", message=f"m{n}") for n in range(12)]
    alerts = [notice("ALERT_TRIGGERED", symbol="BTC/USDT", condition="BTC > 1") for _ in range(3)]
    items = [digest_item(n, 0.0) for n in logs + alerts]
    summary = summarize(digest_notice("u", items, "during quiet hours"))
    assert summary.title == "15 notifications during quiet hours"
    assert summary.lines[0] == "12 log lines from strategy Grid BTC, 3 alerts"
    assert len(summary.lines) == 1 + 5 + 1 and summary.lines[-1] == "… and 10 earlier"
    single = summarize(digest_notice("u", items[-1:], "from a flood of events"))
    assert single.lines[0] == "1 alert"
