"""Dates as they are written: RFC 3339 in UTC for machines, per language for readers — pure.

Every date feedbot shows goes through here: the feeds and the pages' ``datetime``
attributes use `rfc3339`, the pages and the Telegram posts use `format_date`.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_skeleton, format_time

from feedbot.articles.model import DatePrecision

__all__ = ["format_date", "rfc3339", "utc"]


def utc(value: datetime) -> datetime:
    """``value`` (timezone-aware) in UTC."""
    return value.astimezone(UTC)


def rfc3339(value: datetime) -> str:
    """``2022-01-14T09:30:00Z``: ``value`` in UTC, with ``Z`` for the offset."""
    return utc(value).isoformat().replace("+00:00", "Z")


@functools.lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en")


def format_date(value: datetime, precision: DatePrecision, language: str) -> str:
    """``value`` as readers of ``language`` write it, no more precise than ``precision``.

    ``January 2022``, ``14 gennaio 2022``, ``January 14, 2022 09:30 UTC`` (an instant
    is shown in UTC). Any language Babel knows is used; an unknown one gives English.
    """
    locale = _locale(language)
    value = utc(value)
    if precision is DatePrecision.MONTH:
        return str(format_skeleton("yMMMM", value, locale=locale))
    day = str(babel_format_date(value, format="long", locale=locale))
    if precision is DatePrecision.DAY:
        return day
    return f"{day} {format_time(value, format='HH:mm', locale=locale)} UTC"
