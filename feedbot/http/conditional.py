"""Conditional requests: whether a client's validators (``If-None-Match``,
``If-Modified-Since``) still match, whether it takes gzip, and HTTP dates — pure."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime

__all__ = ["accepts_gzip", "etag_matches", "http_date", "not_modified_since"]


def http_date(value: datetime) -> bytes:
    """``value`` as an HTTP date (``Sun, 06 Nov 1994 08:49:37 GMT``)."""
    return format_datetime(value, usegmt=True).encode("ascii")


def accepts_gzip(value: bytes) -> bool:
    """Whether an ``Accept-Encoding`` value takes gzip (a ``q=0`` refuses it)."""
    for part in value.lower().split(b","):
        name, _, params = part.partition(b";")
        if name.strip() in (b"gzip", b"x-gzip", b"*"):
            q = params.strip()
            if not q.startswith(b"q="):
                return True
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
    return False


def etag_matches(value: bytes, etags: tuple[bytes, bytes]) -> bool:
    """Whether an ``If-None-Match`` value names one of ``etags`` (weakly compared)."""
    if value.strip() == b"*":
        return True
    for tag in value.split(b","):
        tag = tag.strip()
        if tag.startswith(b"W/"):
            tag = tag[2:]
        if tag in etags:
            return True
    return False


def not_modified_since(value: bytes, last_modified: datetime) -> bool:
    """Whether an ``If-Modified-Since`` value is at or after ``last_modified``."""
    try:
        since = parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return last_modified <= since
