"""Times in a chat's own timezone: digest schedules and quiet hours — pure.

Everything takes the current instant (aware, UTC) as an argument and answers in UTC.
Local times that do not exist (the hour skipped in spring) resolve to the first valid
instant after them; local times that happen twice (the hour repeated in autumn)
resolve to the first of the two (``fold=0``), so a digest fires once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DAYS",
    "DigestSchedule",
    "QuietDecision",
    "QuietHours",
    "ScheduleError",
    "local_instant",
    "next_digest",
    "parse_digest",
    "parse_quiet",
    "quiet_decision",
    "timezone",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^([01]?\d|2[0-3])[:.]([0-5]\d)$")


class ScheduleError(ValueError):
    """A schedule, a time or a timezone that cannot be used, with the reason."""


def timezone(name: str) -> ZoneInfo:
    """The IANA timezone ``name`` (``Europe/Rome``); `ScheduleError` if unknown."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ScheduleError(f"unknown timezone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(f"unknown timezone {name!r}") from None


def _clock(text: str) -> time:
    match = _CLOCK.match(text.strip())
    if match is None:
        raise ScheduleError(f"{text!r} is not a time of day like 08:30")
    return time(int(match[1]), int(match[2]))


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """Daily at ``at``, or weekly on ``weekday`` (0 = Monday) at ``at``."""

    at: time
    weekday: int | None = None

    @property
    def text(self) -> str:
        clock = self.at.strftime("%H:%M")
        return f"daily {clock}" if self.weekday is None else f"weekly {DAYS[self.weekday]} {clock}"


def parse_digest(text: str) -> DigestSchedule:
    """``daily HH:MM`` or ``weekly <day> HH:MM`` (day: mon … sun, or its full name)."""
    parts = text.lower().split()
    if len(parts) == 2 and parts[0] == "daily":
        return DigestSchedule(_clock(parts[1]))
    if len(parts) == 3 and parts[0] == "weekly":
        names = {**{d: i for i, d in enumerate(DAYS)}, **{d: i for i, d in enumerate(_FULL)}}
        if parts[1] not in names:
            raise ScheduleError(f"{parts[1]!r} is not a day of the week (mon … sun)")
        return DigestSchedule(_clock(parts[2]), names[parts[1]])
    raise ScheduleError("want 'daily HH:MM' or 'weekly <day> HH:MM'")


def local_instant(day: date, at: time, zone: tzinfo) -> datetime:
    """The UTC instant of the local time ``at`` on ``day``: the first of two in the
    repeated autumn hour, the first valid one after a time skipped in spring."""
    naive = datetime.combine(day, at)
    for minutes in range(0, 24 * 60):  # a gap is at most a few hours
        local = (naive + timedelta(minutes=minutes)).replace(tzinfo=zone, fold=0)
        instant = local.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
            return instant
    raise ScheduleError(f"no valid local time after {naive} in {zone}")  # pragma: no cover


def next_digest(schedule: DigestSchedule, zone: tzinfo, after: datetime) -> datetime:
    """The first scheduled instant strictly after ``after`` (UTC)."""
    day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(16):
        if schedule.weekday is None or day.weekday() == schedule.weekday:
            instant = local_instant(day, schedule.at, zone)
            if instant > after:
                return instant
        day += timedelta(days=1)
    raise ScheduleError("no digest time in the next two weeks")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class QuietHours:
    """From ``start`` to ``end`` local time (across midnight when end ≤ start)."""

    start: time
    end: time

    @property
    def text(self) -> str:
        return f"{self.start.strftime('%H:%M')}-{self.end.strftime('%H:%M')}"


def parse_quiet(text: str) -> QuietHours:
    """``HH:MM-HH:MM`` (an en dash works too)."""
    parts = text.replace("–", "-").split("-")
    if len(parts) != 2:
        raise ScheduleError("want quiet hours like 23:00-07:00")
    start, end = _clock(parts[0]), _clock(parts[1])
    if start == end:
        raise ScheduleError("quiet hours must not start and end at the same time")
    return QuietHours(start, end)


@dataclass(frozen=True, slots=True)
class QuietDecision:
    """Send now (silently or not), or hold until ``hold_until`` (UTC)."""

    silent: bool = False
    hold_until: datetime | None = None


def quiet_decision(
    quiet: QuietHours | None, action: str, zone: tzinfo, now: datetime
) -> QuietDecision:
    """What to do with an instant post at ``now``: inside the quiet hours it is sent
    silently (``action == "silent"``) or held until they end (``"hold"``)."""
    if quiet is None:
        return QuietDecision()
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside = quiet.start <= clock < quiet.end
        end_day = local.date()
    else:  # across midnight
        inside = clock >= quiet.start or clock < quiet.end
        end_day = local.date() + timedelta(days=1) if clock >= quiet.start else local.date()
    if not inside:
        return QuietDecision()
    if action != "hold":
        return QuietDecision(silent=True)
    return QuietDecision(hold_until=local_instant(end_day, quiet.end, zone))
