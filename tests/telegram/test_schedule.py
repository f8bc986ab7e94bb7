"""Digest schedules and quiet hours in a chat's timezone, across both DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from feedbot.telegram.schedule import (
    DigestSchedule,
    QuietHours,
    ScheduleError,
    next_digest,
    parse_digest,
    parse_quiet,
    quiet_decision,
    timezone,
)

ROME = ZoneInfo("Europe/Rome")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("daily 08:00", DigestSchedule(time(8, 0))),
        ("daily 7.30", DigestSchedule(time(7, 30))),
        ("weekly mon 08:00", DigestSchedule(time(8, 0), 0)),
        ("WEEKLY Sunday 21:15", DigestSchedule(time(21, 15), 6)),
    ],
)
def test_parse_digest(text: str, expected: DigestSchedule) -> None:
    assert parse_digest(text) == expected


@pytest.mark.parametrize("text", ["daily", "daily 24:00", "weekly funday 08:00", "hourly 08:00"])
def test_bad_digest_schedules(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_digest(text)


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "", "/etc/localtime"])
def test_unknown_timezones(name: str) -> None:
    with pytest.raises(ScheduleError):
        timezone(name)


@pytest.mark.parametrize(
    ("at", "after", "expected"),
    [
        # an ordinary day: 08:00 CET is 07:00 UTC
        ("daily 08:00", utc(2026, 1, 10, 6, 0), utc(2026, 1, 10, 7, 0)),
        ("daily 08:00", utc(2026, 1, 10, 7, 0), utc(2026, 1, 11, 7, 0)),  # strictly after
        # spring forward (29 March 2026, 02:00 → 03:00): 02:30 does not exist → 03:00 CEST
        ("daily 02:30", utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 1, 0)),
        ("daily 02:30", utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)),  # then as usual
        # autumn back (25 October 2026, 03:00 → 02:00): 02:30 happens twice → the first
        ("daily 02:30", utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 0, 30)),
        ("daily 02:30", utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)),  # not again
        ("weekly sun 08:00", utc(2026, 3, 28, 12, 0), utc(2026, 3, 29, 6, 0)),  # CEST now
    ],
)
def test_next_digest_in_rome(at: str, after: datetime, expected: datetime) -> None:
    assert next_digest(parse_digest(at), ROME, after) == expected


@pytest.mark.parametrize(
    ("hours", "action", "now", "silent", "hold_until"),
    [
        ("23:00-07:00", "silent", utc(2026, 1, 10, 22, 30), True, None),  # 23:30 CET
        ("23:00-07:00", "silent", utc(2026, 1, 10, 21, 59), False, None),  # 22:59
        ("23:00-07:00", "hold", utc(2026, 1, 10, 22, 30), False, utc(2026, 1, 11, 6, 0)),
        ("23:00-07:00", "hold", utc(2026, 1, 11, 3, 0), False, utc(2026, 1, 11, 6, 0)),  # 04:00
        ("23:00-07:00", "hold", utc(2026, 1, 11, 6, 0), False, None),  # 07:00: over
        ("12:00-14:00", "hold", utc(2026, 1, 11, 11, 0), False, utc(2026, 1, 11, 13, 0)),
        # held across the spring change: 07:00 CEST is 05:00 UTC
        ("23:00-07:00", "hold", utc(2026, 3, 28, 23, 0), False, utc(2026, 3, 29, 5, 0)),
        # quiet until 02:30, a time that does not exist on 29 March: ends at 03:00 CEST
        ("23:00-02:30", "hold", utc(2026, 3, 28, 23, 30), False, utc(2026, 3, 29, 1, 0)),
    ],
)
def test_quiet_decision(
    hours: str, action: str, now: datetime, silent: bool, hold_until: datetime | None
) -> None:
    decision = quiet_decision(parse_quiet(hours), action, ROME, now)
    assert (decision.silent, decision.hold_until) == (silent, hold_until)


def test_no_quiet_hours_sends_normally() -> None:
    decision = quiet_decision(None, "hold", ROME, utc(2026, 1, 1, 0, 0))
    assert not decision.silent and decision.hold_until is None


@pytest.mark.parametrize("text", ["23:00", "25:00-07:00", "07:00-07:00", "a-b"])
def test_bad_quiet_hours(text: str) -> None:
    with pytest.raises(ScheduleError):
        parse_quiet(text)


def test_quiet_hours_text() -> None:
    assert parse_quiet("23:00–7:05") == QuietHours(time(23), time(7, 5))
    assert parse_quiet("23:00–7:05").text == "23:00-07:05"
