"""The alert rules over plain data: quiet hours (across midnight, across daylight-saving
changes, at their edges), once per stranger per N hours, "no alerts", arrivals, and how
they combine."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from facewatch.exceptions import BadInput
from facewatch.household.rules import QuietHours, arrival_due, quiet_reason, stranger_suppressed
from facewatch.household.settings import HouseholdSettings
from facewatch.records import HeldBack, HeldBackBy

BERLIN = "Europe/Berlin"
NIGHT = "22:00-07:00"


def berlin(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(BERLIN))


@pytest.mark.parametrize(
    ("local", "quiet"),
    [
        ((21, 59), False),
        ((22, 0), True),  # the window's start is inside
        ((23, 30), True),
        ((0, 0), True),
        ((6, 59), True),
        ((7, 0), False),  # its end is not
        ((12, 0), False),
    ],
)
def test_quiet_hours_across_midnight(local, quiet):
    at = berlin(2026, 6, 10, *local).astimezone(UTC)  # an instant, as alerts carry them
    assert (quiet_reason(NIGHT, "email", at, BERLIN) is not None) is quiet


def test_a_window_within_one_day():
    lunch = QuietHours.parse("13:00-14:00")
    assert lunch.covers(time(13, 30)) and not lunch.covers(time(14, 0)) and not lunch.covers(time(12, 59))


@pytest.mark.parametrize(
    ("utc", "quiet"),
    [
        # 29 March 2026: clocks go 02:00 -> 03:00 in Berlin. 05:30 UTC is 07:30 CEST: awake.
        (datetime(2026, 3, 29, 5, 30, tzinfo=UTC), False),
        # The day before, 05:30 UTC is 06:30 CET: still night.
        (datetime(2026, 3, 28, 5, 30, tzinfo=UTC), True),
        # 25 October 2026: clocks go 03:00 -> 02:00. 06:30 UTC is 07:30 CET: awake.
        (datetime(2026, 10, 25, 6, 30, tzinfo=UTC), False),
        # 05:30 UTC that morning is 06:30 CET: night, though it was 07:30 CEST a day before.
        (datetime(2026, 10, 25, 5, 30, tzinfo=UTC), True),
        (datetime(2026, 10, 24, 5, 30, tzinfo=UTC), False),
        # 00:30 UTC on 25 October: the repeated hour (02:30 CEST, then CET): night either way.
        (datetime(2026, 10, 25, 0, 30, tzinfo=UTC), True),
        (datetime(2026, 10, 25, 1, 30, tzinfo=UTC), True),
    ],
)
def test_quiet_hours_keep_the_local_clock_across_daylight_saving_changes(utc, quiet):
    assert (quiet_reason(NIGHT, "email", utc, BERLIN) is not None) is quiet


def test_quiet_hours_are_per_channel_and_say_why():
    at = berlin(2026, 1, 5, 23, 0)
    windows = {"email": NIGHT}
    assert quiet_reason(windows.get("mqtt"), "mqtt", at, BERLIN) is None
    assert quiet_reason(windows.get("email"), "email", at, BERLIN) == HeldBack(
        by=HeldBackBy.QUIET_HOURS, detail=f"quiet hours {NIGHT} ({BERLIN}) on email"
    )


@pytest.mark.parametrize("bad", ["22-07", "22:00", "25:00-07:00", "22:00-22:00", "night"])
def test_malformed_quiet_hours_are_refused_clearly(bad):
    with pytest.raises(BadInput, match="quiet hours"):
        QuietHours.parse(bad)
    with pytest.raises(ValueError, match="quiet hours"):
        HouseholdSettings(quiet_hours={"email": bad})


def test_a_household_time_zone_must_exist():
    with pytest.raises(ValueError, match="not an IANA time zone"):
        HouseholdSettings(timezone="Mars/Olympus")


@given(st.times(), st.times(), st.times())
def test_a_window_and_its_complement_split_the_day(start, end, at):
    if start.replace(tzinfo=None) == end.replace(tzinfo=None):
        return
    window = QuietHours(start.replace(tzinfo=None), end.replace(tzinfo=None))
    other = QuietHours(window.end, window.start)
    assert window.covers(at) != other.covers(at)


NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def suppressed(**kw) -> HeldBack | None:
    base = {
        "stranger_id": "stranger-1",
        "visit_id": "visit-2",
        "alerted_at": None,
        "alerted_visit": None,
        "now": NOW,
        "once_per": None,
        "no_alerts": (),
    }
    return stranger_suppressed(**{**base, **kw})


def test_no_rule_lets_every_new_visit_alert():
    assert suppressed(alerted_at=NOW - timedelta(minutes=1), alerted_visit="visit-1") is None


def test_once_per_n_hours():
    day = timedelta(hours=24)
    assert suppressed(once_per=day) is None  # never alerted
    held = suppressed(once_per=day, alerted_at=NOW - timedelta(hours=2), alerted_visit="visit-1")
    assert held == HeldBack(
        by=HeldBackBy.ONCE_PER_HOURS, detail="stranger-1 alerted 2.0 h ago (at most once per 24 h)"
    )
    assert suppressed(once_per=day, alerted_at=NOW - timedelta(hours=25), alerted_visit="visit-1") is None


def test_the_visit_that_alerted_alerts_again_when_its_frame_is_redelivered():
    assert suppressed(once_per=timedelta(hours=24), alerted_at=NOW, alerted_visit="visit-2") is None


def test_no_alerts_wins_over_everything():
    assert suppressed(no_alerts=["stranger-1"]) == HeldBack(
        by=HeldBackBy.NO_ALERTS, detail="stranger-1 is marked no alerts"
    )
    assert suppressed(no_alerts=["stranger-1"], alerted_visit="visit-2", alerted_at=NOW) is not None
    assert suppressed(no_alerts=["stranger-9"]) is None


def arrival(**kw) -> bool:
    base = {
        "frame_key": "f2",
        "last_seen": None,
        "announced_frame": None,
        "now": NOW,
        "window": timedelta(minutes=5),
        "arrivals": ["alice"],
        "no_alerts": (),
    }
    return arrival_due("alice", **{**base, **kw})


def test_arrivals_are_off_unless_asked_for_and_once_per_visit():
    assert arrival_due("bob", frame_key="f", last_seen=None, announced_frame=None, now=NOW,
                       window=timedelta(minutes=5), arrivals=["alice"], no_alerts=()) is False  # fmt: skip
    assert arrival() is True  # first time seen
    assert arrival(last_seen=NOW - timedelta(minutes=1), announced_frame="f1") is False  # same visit
    assert arrival(last_seen=NOW - timedelta(minutes=6), announced_frame="f1") is True  # came back
    assert arrival(last_seen=NOW, announced_frame="f2") is True  # the announcing frame, redelivered
    assert arrival(no_alerts=["alice"]) is False
