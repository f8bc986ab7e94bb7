"""Dates: RFC 3339 for machines and the one per-language formatter the pages and posts share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from feedbot.articles.dates import format_date, rfc3339, utc
from feedbot.articles.model import DatePrecision

CET = timezone(timedelta(hours=1))


def test_rfc3339_is_utc_with_z() -> None:
    assert rfc3339(datetime(2022, 1, 14, 9, 30, tzinfo=UTC)) == "2022-01-14T09:30:00Z"
    assert rfc3339(datetime(2022, 1, 14, 0, 30, tzinfo=CET)) == "2022-01-13T23:30:00Z"
    assert utc(datetime(2022, 1, 14, 0, 30, tzinfo=CET)).tzinfo is UTC


@pytest.mark.parametrize(
    ("precision", "language", "expected"),
    [
        (DatePrecision.MONTH, "it", "gennaio 2022"),
        (DatePrecision.MONTH, "en", "January 2022"),
        (DatePrecision.DAY, "it", "14 gennaio 2022"),
        (DatePrecision.DAY, "en", "January 14, 2022"),
        (DatePrecision.INSTANT, "en", "January 14, 2022 09:30 UTC"),
        (DatePrecision.INSTANT, "it", "14 gennaio 2022 09:30 UTC"),
        (DatePrecision.DAY, "de-DE", "14. Januar 2022"),  # any language Babel knows
        (DatePrecision.DAY, "xx-nonsense", "January 14, 2022"),  # unknown language: English
    ],
)
def test_format_date(precision: DatePrecision, language: str, expected: str) -> None:
    assert format_date(datetime(2022, 1, 14, 9, 30, tzinfo=UTC), precision, language) == expected


def test_format_date_shows_the_utc_day() -> None:
    late = datetime(2022, 1, 15, 0, 30, tzinfo=CET)  # 23:30 UTC on the 14th
    assert format_date(late, DatePrecision.DAY, "en") == "January 14, 2022"
    assert format_date(late, DatePrecision.INSTANT, "en") == "January 14, 2022 23:30 UTC"
