"""The documents that list the site, rendered on demand from an `EntrySource`: each
language's feeds (``it/feed.atom``, ``it/archive/1.atom``), ``sitemap.xml`` (a sitemap
index of ``sitemaps/<n>.xml`` past 50,000 articles), ``news-sitemap.xml``,
``robots.txt`` and ``feeds.opml`` — what `feedbot.publish.site.Site` serves besides its
feeds and pages, and what a static build writes too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from feedbot.articles.model import Entry
from feedbot.config import FeedSettings
from feedbot.publish.feeds import (
    MEDIA_TYPES,
    FeedDoc,
    archive_count,
    archive_range,
    render_atom,
    render_json,
    render_rss,
)
from feedbot.publish.sitemaps import (
    SITEMAP_URLS,
    news_entries,
    render_news_sitemap,
    render_opml,
    render_robots,
    render_sitemap,
    render_sitemap_index,
    sitemap_count,
    sitemap_path,
)
from feedbot.publish.urls import Channel, FeedFormat

if TYPE_CHECKING:
    from feedbot.publish.site import EntrySource

__all__ = ["LISTINGS", "Listing", "listing_paths", "render_listing"]

_RENDER = {"atom": render_atom, "rss": render_rss, "json": render_json}
_FORMATS: tuple[FeedFormat, ...] = ("atom", "rss", "json")
_LANG = r"([a-z]{2,3})"
_LANG_FEED = re.compile(_LANG + r"/feed\.(atom|rss|json)")
_LANG_ARCHIVE = re.compile(_LANG + r"/archive/([1-9][0-9]{0,8})\.(atom|rss|json)")
_SITEMAP_PART = re.compile(r"sitemaps/([1-9][0-9]{0,5})\.xml")
_BATCH = 1000
#: Content types of what this module renders, by path ending.
LISTINGS = {
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".atom": MEDIA_TYPES["atom"] + "; charset=utf-8",
    ".rss": MEDIA_TYPES["rss"] + "; charset=utf-8",
    ".json": MEDIA_TYPES["json"],
}


class Listing:
    """A rendered listing: its bytes, its content type and the entries it shows."""

    __slots__ = ("body", "content_type", "entries")

    def __init__(self, body: bytes, path: str, entries: list[Entry]) -> None:
        self.body = body
        self.content_type = LISTINGS["." + path.rsplit(".", 1)[1]]
        self.entries = entries


def _all(source: EntrySource, language: str | None = None) -> list[Entry]:
    total = source.count(language)
    return [
        e for offset in range(0, total, _BATCH) for e in source.newest(offset, _BATCH, language)
    ]


def render_listing(
    path: str, source: EntrySource, feed: FeedSettings, now: datetime
) -> Listing | None:
    """The listing at ``path``, or None when there is none."""
    if path == "robots.txt":
        return Listing(render_robots(feed), path, [])
    if path == "feeds.opml":
        newest = source.newest(0, 1)
        updated = newest[0].updated if newest else now
        return Listing(render_opml(list(source.languages()), feed, updated), path, list(newest))
    if path == "sitemap.xml":
        total = source.count()
        parts = sitemap_count(total)
        if parts:
            return Listing(render_sitemap_index(parts, feed), path, list(source.newest(0, 1)))
        entries = _all(source)
        return Listing(render_sitemap(entries, feed), path, entries)
    if m := _SITEMAP_PART.fullmatch(path):
        number = int(m.group(1))
        if number > sitemap_count(source.count()):
            return None
        entries = list(source.newest((number - 1) * SITEMAP_URLS, SITEMAP_URLS))
        return Listing(render_sitemap(entries, feed, home=number == 1), path, entries)
    if path == "news-sitemap.xml":
        entries = news_entries(source.newest(0, 1000), now)
        return Listing(render_news_sitemap(entries, feed), path, entries)
    return _language_feed(path, source, feed)


def _language_feed(path: str, source: EntrySource, feed: FeedSettings) -> Listing | None:
    if m := _LANG_FEED.fullmatch(path):
        language, fmt, number = m.group(1), m.group(2), None
    elif m := _LANG_ARCHIVE.fullmatch(path):
        language, number, fmt = m.group(1), int(m.group(2)), m.group(3)
    else:
        return None
    if language not in source.languages():
        return None
    total, per_page = source.count(language), feed.max_entries
    archives = archive_count(total, per_page)
    if number is None:
        entries = list(source.newest(0, per_page, language))
    elif number > archives:
        return None
    else:
        offset, limit = archive_range(number, total, per_page)
        entries = list(source.newest(offset, limit, language))
    doc = FeedDoc(entries, number, archives, Channel(language=language))
    return Listing(_RENDER[fmt](doc, feed), path, entries)


def listing_paths(source: EntrySource, feed: FeedSettings) -> Iterator[str]:
    """Every listing a static build writes."""
    yield from ("robots.txt", "feeds.opml", "sitemap.xml", "news-sitemap.xml")
    yield from (sitemap_path(n) for n in range(1, sitemap_count(source.count()) + 1))
    for language in source.languages():
        channel = Channel(language=language)
        archives = archive_count(source.count(language), feed.max_entries)
        for fmt in _FORMATS:
            yield channel.path(fmt)
            yield from (channel.path(fmt, n) for n in range(1, archives + 1))
