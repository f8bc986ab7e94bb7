"""The site's answers to searches: ``search?q=…`` (a page of 20 results with snippets)
and ``search.atom?q=…`` / ``.rss`` / ``.json`` (the newest `SEARCH_FEED_ENTRIES` matches
as a feed), rendered from what a `Finder` returns and cached per source version.

The query is parsed by `feedbot.search.query` (never the engine's syntax); the key of a
cached answer is the query's canonical text and the page, so spellings of one query
share one entry and one feed id. A query that cannot run (too long, too many terms)
is answered with the reason on the page, and with an empty feed; nothing here raises
for any input. Searching reads the database: `Searches.get` runs off the event loop,
`Searches.peek` never blocks.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode

from markupsafe import Markup

from feedbot.articles.dates import format_date, rfc3339
from feedbot.articles.i18n import translator
from feedbot.articles.model import DatePrecision, Entry
from feedbot.config import FeedSettings
from feedbot.publish.body import clean_article, clean_text
from feedbot.publish.feeds import FeedDoc, render_atom, render_json, render_rss
from feedbot.publish.pages import PER_PAGE, render_page
from feedbot.publish.site import CONTENT_TYPES, MISS, Resource, make_resource
from feedbot.publish.urls import Channel, FeedFormat, article_path
from feedbot.search.query import Query, QueryError, parse
from feedbot.search.reach import SEARCHED_SINCE, Found
from feedbot.search.snippet import snippet

__all__ = ["MAX_PAGES", "SEARCH_FEED_ENTRIES", "SEARCH_PATHS", "Asked", "Finder", "Searches"]

SEARCH_FEED_ENTRIES = 50
MAX_PAGES = 50  # deeper than 1,000 results nobody reads; the engine need not rank them
SEARCH_PATHS: dict[str, FeedFormat | None] = {
    "search": None,
    "search.atom": "atom",
    "search.rss": "rss",
    "search.json": "json",
}
_RENDER = {"atom": render_atom, "rss": render_rss, "json": render_json}
# gzip's level for an answer: most are asked for once or a few times, so the ~35% of the
# compression time that level 9 spends over 6 (for ~2% fewer bytes) rarely pays back.
ONE_OFF = 6


class Finder(Protocol):
    """Runs a search: the published entries ``query`` finds, best (or newest) first, and
    how far back it read (`feedbot.search.reach`)."""

    def __call__(self, query: Query, offset: int, limit: int, newest: bool) -> Found: ...


@dataclass(frozen=True, slots=True)
class Asked:
    path: str
    text: str  # as typed (shown back in the box)
    page: int

    @property
    def key(self) -> str:
        return f"{self.path}?{urlencode({'q': self.text, 'page': self.page})}"


class Searches:
    """Answers to searches, cached (at most ``cache_size``) until the source changes."""

    def __init__(
        self,
        find: Finder,
        version: Callable[[], object],
        feed: FeedSettings,
        *,
        cache_size: int = 128,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._find = find
        self._version = version
        self._feed = feed
        self._clock = clock
        self._cache_size = cache_size
        self._cache: OrderedDict[str, Resource] = OrderedDict()
        self._seen: object = object()
        self._changed = clock()
        self._lock = threading.Lock()

    @staticmethod
    def asked(path: str, query_string: str) -> Asked | None:
        """What a request for ``path`` with ``query_string`` asks, or None (not a search)."""
        if path not in SEARCH_PATHS:
            return None
        # Any number of fields (not parse_qs's max_num_fields, which raises past it): the
        # work is linear in the query string, which the server bounds (8 KB, else 414).
        fields = parse_qs(query_string, keep_blank_values=True)
        text = (fields.get("q") or [""])[0][:1024]
        try:
            page = int((fields.get("page") or ["1"])[0])
        except ValueError:
            page = 1
        return Asked(path, text.strip(), min(max(page, 1), MAX_PAGES))

    def peek(self, asked: Asked) -> Resource | Any:
        """The cached answer, or `MISS` (never blocks, never searches)."""
        if not self._lock.acquire(blocking=False):
            return MISS
        try:
            if self._version() != self._seen:
                return MISS
            return self._cache.get(asked.key, MISS)
        finally:
            self._lock.release()

    def get(self, asked: Asked) -> Resource:
        """The answer to ``asked`` (searches the database on a miss)."""
        with self._lock:
            version = self._version()
            if version != self._seen:
                self._cache.clear()
                self._seen, self._changed = version, self._clock()
            found = self._cache.get(asked.key)
            if found is not None:
                self._cache.move_to_end(asked.key)
                return found
        resource = self._answer(asked)
        with self._lock:
            self._cache[asked.key] = resource
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return resource

    def _answer(self, asked: Asked) -> Resource:
        fmt = SEARCH_PATHS[asked.path]
        try:
            query, message = parse(asked.text), ""
        except QueryError as e:
            query, message = Query(()), e.message(translator(self._feed.language))
        if fmt is not None:
            found = self._find(query, 0, SEARCH_FEED_ENTRIES, True) if query.included else Found()
            entries = found.entries
            doc = FeedDoc(entries, None, 0, Channel(query=query.text or asked.text))
            body = _RENDER[fmt](doc, self._feed)
            resource = make_resource(body, CONTENT_TYPES[fmt], entries, compresslevel=ONE_OFF)
        else:
            offset = (asked.page - 1) * PER_PAGE
            found = self._find(query, offset, PER_PAGE + 1, False) if query.included else Found()
            shown, more = found.entries[:PER_PAGE], len(found.entries) > PER_PAGE
            body = self._page(asked, query, shown, more, message, found.since)
            resource = make_resource(body, CONTENT_TYPES["html"], shown, compresslevel=ONE_OFF)
        # Any change of the articles may change an answer: never older than that change.
        modified = min(max(resource.last_modified, self._changed), self._clock())
        return replace(resource, last_modified=modified.replace(microsecond=0))

    def _page(
        self,
        asked: Asked,
        query: Query,
        entries: Sequence[Entry],
        more: bool,
        message: str,
        since: datetime | None,
    ) -> bytes:
        feed = self._feed
        _ = translator(feed.language)
        shown = clean_text(asked.text)
        heading = _("Results for “{query}”", query=shown) if query.included else _("Search")
        if not message and not query.included:
            message = _("Type a word to search for.")
        elif not message and not entries:
            message = _("No articles found.")
        if since is not None:
            day = format_date(since, DatePrecision.DAY, feed.language)
            message = " ".join(filter(None, [message, _(SEARCHED_SINCE, date=day)]))
        items = []
        for entry in entries:
            article = clean_article(entry.article)
            items.append(
                {
                    "href": article_path(article.id),
                    "headline": article.headline or article.id,
                    "lang": article.language
                    if article.language not in ("", "und")
                    else feed.language,
                    "date": format_date(article.date.value, article.date.precision, feed.language),
                    "datetime": rfc3339(article.date.value),
                    "snippet": Markup(snippet(article, query).html()),  # noqa: S704 - escaped
                }
            )

        def link(page: int) -> str:
            fields: dict[str, object] = {"q": asked.text}
            if page > 1:
                fields["page"] = page
            return "search?" + urlencode(fields)

        return render_page(
            "search.html",
            feed,
            "",
            query=clean_text(asked.text),  # the box: no character HTML cannot carry
            heading=heading,
            message=message,
            items=items,
            page=asked.page,
            prev_href=link(asked.page - 1) if asked.page > 1 else "",
            next_href=link(asked.page + 1) if more and asked.page < MAX_PAGES else "",
            feed_href=("search.atom?" + urlencode({"q": query.text})) if query.included else "",
            t_search={
                "previous": _("Previous results"),
                "more": _("More results"),
                "subscribe": _("Subscribe to this search (Atom)"),
            },
        )
