"""The rendered site: path → bytes with ETag, gzip and Last-Modified, cached per source version.

`Site` asks an `EntrySource` for entries and renders what is asked for. The main
feeds and the first index page are rendered eagerly whenever the source's
version changes; article pages, older index pages and archive documents are
rendered on demand and kept in a bounded LRU, so memory stays small however
many articles there are. Paths are plain strings without a leading slash.

A document's ``Last-Modified`` is when its bytes last changed as far as this
process knows, never later than now: the newest ``updated`` of the entries it
shows (a future date counts as now), no earlier than ``changed_since`` (the daemon
gives its start, as it cannot know what changed while it was down), and moved to
the time of the rendering whenever the bytes differ from the last ones rendered
for that path — so any change answers 200 to the ``If-Modified-Since`` a reader
got before it, even when no date moved (an old-dated article added, one removed).

When the source is a database, rendering reads it, so it must not happen on the
event loop: the web layer answers from `Site.peek` (cached documents only, never
blocking) and sends misses to `Site.get` on a database thread. A lock makes the
caches safe to share between those threads and the loop.
"""

from __future__ import annotations

import enum
import gzip
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import unquote

from feedbot.articles.model import Entry
from feedbot.articles.names import MAX_ID_URL_CHARS
from feedbot.config import FeedSettings
from feedbot.publish.directory import listing_paths, render_listing
from feedbot.publish.feeds import (
    EMPTY_FEED_UPDATED,
    MEDIA_TYPES,
    FeedDoc,
    FeedFormat,
    archive_count,
    archive_range,
    article_path,
    feed_path,
    render_atom,
    render_json,
    render_rss,
)
from feedbot.publish.pages import (
    PER_PAGE,
    index_page_count,
    index_path,
    render_article,
    render_index,
)

__all__ = [
    "CONTENT_TYPES",
    "MISS",
    "EntrySource",
    "MemorySource",
    "Resource",
    "Site",
    "make_resource",
]

CONTENT_TYPES: dict[str, str] = {
    "atom": MEDIA_TYPES["atom"] + "; charset=utf-8",
    "rss": MEDIA_TYPES["rss"] + "; charset=utf-8",
    "json": MEDIA_TYPES["json"],
    "html": "text/html; charset=utf-8",
}
_RENDER = {"atom": render_atom, "rss": render_rss, "json": render_json}
_FORMATS: tuple[FeedFormat, ...] = ("atom", "rss", "json")
_FEED = re.compile(r"feed\.(atom|rss|json)")
_ARCHIVE = re.compile(r"archive/([1-9][0-9]{0,8})\.(atom|rss|json)")
_PAGE = re.compile(r"page/([1-9][0-9]{0,8})\.html")
_ARTICLE = re.compile(rf"articles/([A-Za-z0-9_.~%-]{{1,{MAX_ID_URL_CHARS}}})\.html")
_BATCH = 500  # entries read at a time when listing every article
_STAMPS = 65536  # paths whose last ETag and Last-Modified are remembered
_SECOND = timedelta(seconds=1)


class _Miss(enum.Enum):
    MISS = "miss"


MISS = _Miss.MISS  # `Site.peek`: not cached, ask `Site.get`


class EntrySource(Protocol):
    """Where the site's entries come from (memory for builds, the store for the daemon)."""

    def version(self) -> object:
        """A value that compares unequal after any entry is added, changed or removed."""
        ...

    def count(self, language: str | None = None) -> int:
        """How many entries there are (in ``language``)."""
        ...

    def languages(self) -> Sequence[str]:
        """The languages of the entries (ISO 639-1, sorted; "und" left out)."""
        ...

    def newest(self, offset: int, limit: int, language: str | None = None) -> Sequence[Entry]:
        """Entries (in ``language``) ordered by date, seq and id, all descending."""
        ...

    def get(self, article_id: str) -> Entry | None:
        """The entry of one article, or None."""
        ...


def _order_key(entry: Entry) -> tuple[datetime, int, str]:
    article = entry.article
    return (article.date.value, article.seq, article.id)


class MemorySource:
    """An `EntrySource` over a fixed list of entries."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        self._entries = sorted(entries, key=_order_key, reverse=True)
        self._by_id = {e.article.id: e for e in self._entries}
        self._version = hashlib.sha256(
            repr([(e.article, e.updated) for e in self._entries]).encode()
        ).hexdigest()

    def version(self) -> object:
        return self._version

    def count(self, language: str | None = None) -> int:
        return len(self._of(language))

    def languages(self) -> Sequence[str]:
        return sorted({e.article.language for e in self._entries} - {"", "und"})

    def newest(self, offset: int, limit: int, language: str | None = None) -> Sequence[Entry]:
        return self._of(language)[offset : offset + limit]

    def _of(self, language: str | None) -> Sequence[Entry]:
        if language is None:
            return self._entries
        return [e for e in self._entries if e.article.language == language]

    def get(self, article_id: str) -> Entry | None:
        return self._by_id.get(article_id)


@dataclass(frozen=True, slots=True)
class Resource:
    """One rendered document, ready to serve."""

    body: bytes
    gzipped: bytes
    content_type: str
    etag: str  # strong ETag of ``body``, quoted
    last_modified: datetime  # when the bytes last changed (see the module docstring)


def make_resource(
    body: bytes, content_type: str, entries: Sequence[Entry], *, compresslevel: int = 9
) -> Resource:
    """A `Resource` for ``body``: hashed and compressed once, here (at gzip's
    ``compresslevel``: the best for what is served many times). Its ``last_modified``
    is the newest ``updated`` of ``entries``; `Site` bounds it by the clock."""
    newest = max((e.updated.astimezone(UTC) for e in entries), default=EMPTY_FEED_UPDATED)
    return Resource(
        body=body,
        gzipped=gzip.compress(body, compresslevel=compresslevel, mtime=0),
        content_type=content_type,
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        last_modified=newest.replace(microsecond=0),
    )


class Site:
    """Every document of the site, rendered from ``source`` and cached per version."""

    def __init__(
        self,
        source: EntrySource,
        feed: FeedSettings,
        *,
        cache_size: int = 256,
        cache_bytes: int = 32 * 1024 * 1024,
        changed_since: datetime | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        search: bool = True,
    ) -> None:
        self._source = source
        self._search = search  # pages carry the search box (not in a static export)
        self._clock = clock
        self._floor = (
            changed_since.astimezone(UTC).replace(microsecond=0) if changed_since else None
        )
        self._stamps: OrderedDict[str, tuple[str, datetime]] = OrderedDict()
        self._feed = feed
        self._cache_size = cache_size  # most lazily rendered documents kept ...
        self._cache_bytes = cache_bytes  # ... and most bytes (body + gzip) they may hold
        self._lazy_bytes = 0
        self._version: object = object()  # equal to nothing: the first get() renders
        self._eager: dict[str, Resource] = {}
        self._lazy: OrderedDict[str, Resource | None] = OrderedDict()
        self._total = 0
        self._languages: list[str] = []  # of the entries: each has its feeds (hreflang)
        self._lock = threading.RLock()  # held by get(); peek() only tries it

    @property
    def feed(self) -> FeedSettings:
        """The ``feed`` section the site renders with."""
        return self._feed

    @property
    def source(self) -> EntrySource:
        """The entry source the site renders."""
        return self._source

    def _refresh(self) -> None:
        """Re-render the main documents when the source changed since the last call."""
        version = self._source.version()
        if version == self._version:
            return
        total = self._source.count()
        languages = self._languages = list(self._source.languages())
        per_page = self._feed.max_entries
        newest = self._source.newest(0, max(per_page, PER_PAGE))
        archives = archive_count(total, per_page)
        main = FeedDoc(newest[:per_page], None, archives)
        eager = {}
        for fmt in _FORMATS:
            body = _RENDER[fmt](main, self._feed)
            path = feed_path(fmt)
            eager[path] = self._stamped(path, make_resource(body, CONTENT_TYPES[fmt], main.entries))
        first = newest[:PER_PAGE]
        pages = index_page_count(total)
        body = render_index(first, 1, pages, self._feed, search=self._search, languages=languages)
        eager["index.html"] = self._stamped(
            "index.html", make_resource(body, CONTENT_TYPES["html"], first)
        )
        self._eager, self._total, self._version = eager, total, version
        self._lazy.clear()
        self._lazy_bytes = 0

    def peek(self, path: str) -> Resource | _Miss | None:
        """The cached document at ``path`` (None: known not to exist), or `MISS`.

        Never reads the source and never waits: safe on the event loop."""
        if not self._lock.acquire(blocking=False):
            return MISS  # a render is under way on another thread
        try:
            if self._source.version() != self._version:
                return MISS
            return self._cached(path)
        finally:
            self._lock.release()

    def _cached(self, path: str) -> Resource | _Miss | None:
        """The document already rendered for ``path`` (None: it does not exist), or `MISS`."""
        found = self._eager.get(path)
        if found is not None:
            return found
        if path in self._lazy:
            self._lazy.move_to_end(path)
            return self._lazy[path]
        return MISS

    def get(self, path: str) -> Resource | None:
        """The document at ``path`` (``feed.atom``, ``articles/<id>.html``, ...), or None."""
        with self._lock:
            return self._get(path)

    def _get(self, path: str) -> Resource | None:
        self._refresh()
        found = self._cached(path)
        if found is not MISS:
            return found
        if len(path) > 300 or ".." in path or "\\" in path or "\x00" in path:
            return None
        resource = self._render(path)
        if resource is not None:
            resource = self._stamped(path, resource)
        self._lazy[path] = resource
        self._lazy_bytes += _size(resource)
        while len(self._lazy) > self._cache_size or (
            self._lazy_bytes > self._cache_bytes and len(self._lazy) > 1
        ):
            _, dropped = self._lazy.popitem(last=False)
            self._lazy_bytes -= _size(dropped)
        return resource

    def _render(self, path: str) -> Resource | None:
        if m := _ARCHIVE.fullmatch(path):
            return self._archive(int(m.group(1)), m.group(2))  # type: ignore[arg-type]
        if m := _PAGE.fullmatch(path):
            return self._index_page(int(m.group(1)))
        if listing := render_listing(path, self._source, self._feed, self._clock()):
            return make_resource(listing.body, listing.content_type, listing.entries)
        if m := _ARTICLE.fullmatch(path):
            article_id = unquote(m.group(1))
            entry = self._source.get(article_id)
            if entry is None or article_path(article_id) != path:
                return None
            return make_resource(
                render_article(entry, self._feed, search=self._search, languages=self._languages),
                CONTENT_TYPES["html"],
                [entry],
            )
        return None

    def _archive(self, number: int, fmt: FeedFormat) -> Resource | None:
        per_page = self._feed.max_entries
        archives = archive_count(self._total, per_page)
        if number > archives:
            return None
        offset, limit = archive_range(number, self._total, per_page)
        doc = FeedDoc(self._source.newest(offset, limit), number, archives)
        return make_resource(_RENDER[fmt](doc, self._feed), CONTENT_TYPES[fmt], doc.entries)

    def _index_page(self, page: int) -> Resource | None:
        pages = index_page_count(self._total)
        if page < 2 or page > pages:
            return None
        entries = self._source.newest((page - 1) * PER_PAGE, PER_PAGE)
        body = render_index(
            entries, page, pages, self._feed, search=self._search, languages=self._languages
        )
        return make_resource(body, CONTENT_TYPES["html"], entries)

    def _stamped(self, path: str, resource: Resource) -> Resource:
        """``resource`` with the Last-Modified of its bytes (see the module docstring)."""
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        known = self._stamps.get(path)
        if known is None:
            floor = self._floor or resource.last_modified
            last = min(max(resource.last_modified, floor), now)
        elif known[0] == resource.etag:
            last = known[1]
        else:
            # New bytes: now, but always after the previous time, so a reader holding it
            # is answered 200. Only a second change within one second goes past now (by a
            # second); the web layer leaves such a time out until it has passed.
            last = max(now, known[1] + _SECOND)
        self._stamps[path] = (resource.etag, last)
        self._stamps.move_to_end(path)
        if len(self._stamps) > _STAMPS:
            self._stamps.popitem(last=False)
        return resource if last == resource.last_modified else replace(resource, last_modified=last)

    def paths(self) -> Iterator[str]:
        """Every path of the static build: feeds, archives, index pages, article pages, and
        the listings (`feedbot.publish.directory`)."""
        with self._lock:
            self._refresh()
            total = self._total
        yield from (feed_path(fmt) for fmt in _FORMATS)
        for number in range(1, archive_count(total, self._feed.max_entries) + 1):
            yield from (feed_path(fmt, number) for fmt in _FORMATS)
        yield from (index_path(page) for page in range(1, index_page_count(total) + 1))
        for offset in range(0, total, _BATCH):
            for entry in self._source.newest(offset, _BATCH):
                yield article_path(entry.article.id)
        yield from listing_paths(self._source, self._feed)


def _size(resource: Resource | None) -> int:
    return 0 if resource is None else len(resource.body) + len(resource.gzipped)
