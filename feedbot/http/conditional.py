"""Conditional requests: whether a client's validators (``If-None-Match``,
``If-Modified-Since``) still match, whether it takes gzip, HTTP dates, and the headers
of a rendered document (`Prepared`) — pure."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feedbot.publish.site import Resource

__all__ = ["Headers", "Prepared", "accepts_gzip", "etag_matches", "http_date", "not_modified_since"]

Headers = list[tuple[bytes, bytes]]


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


class Prepared:
    """The response headers of one `Resource`, built once."""

    __slots__ = ("etags", "gzip", "modified_at", "not_modified", "plain", "resource")

    not_modified: tuple[Headers, Headers]  # the 304 headers: plain, gzip

    def __init__(self, resource: Resource, common: Headers, extra: Headers) -> None:
        self.resource = resource
        self.modified_at = resource.last_modified.timestamp()
        etag = resource.etag.encode("ascii")
        gz_etag = etag[:-1] + b'-gz"'
        self.etags = (etag, gz_etag)
        base = [
            (b"content-type", resource.content_type.encode("ascii")),
            (b"last-modified", http_date(resource.last_modified)),
            *common,
            *extra,
        ]
        self.plain = [
            *base,
            (b"etag", etag),
            (b"content-length", str(len(resource.body)).encode()),
        ]
        self.gzip = [
            *base,
            (b"etag", gz_etag),
            (b"content-encoding", b"gzip"),
            (b"content-length", str(len(resource.gzipped)).encode()),
        ]
        last_modified = (b"last-modified", http_date(resource.last_modified))
        self.not_modified = (
            [(b"etag", etag), last_modified, *common, *extra],
            [(b"etag", gz_etag), last_modified, *common, *extra],
        )
