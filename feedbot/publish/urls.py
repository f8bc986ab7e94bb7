"""Where things are on the site: paths, absolute URLs and tag URIs — pure.

A `Channel` says which feed a document belongs to: the site's own (`MAIN`, every
article), one language's (``it/feed.atom``, the articles in Italian) or a search's
(``search.atom?q=…``, the newest articles a query finds). Each has its own stable id
(a tag URI, RFC 4151, never derived from ``base_url``), paths and title.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from feedbot.articles.names import id_in_url
from feedbot.config import FeedSettings

__all__ = [
    "MAIN",
    "Channel",
    "FeedFormat",
    "article_path",
    "article_url",
    "entry_id",
    "feed_path",
    "feed_url",
    "site_url",
]

FeedFormat = Literal["atom", "rss", "json"]


@dataclass(frozen=True, slots=True)
class Channel:
    """The site's feed (no language, no query), a language's, or a search's."""

    language: str | None = None  # ISO 639-1: the articles in this language
    query: str | None = None  # the canonical text of a search (`Query.text`)

    def path(self, fmt: FeedFormat, archive: int | None = None) -> str:
        """Path of a document of this feed (archives: not for a search)."""
        if self.query is not None:
            return f"search.{fmt}?" + urlencode({"q": self.query})
        prefix = f"{self.language}/" if self.language else ""
        return prefix + (f"feed.{fmt}" if archive is None else f"archive/{archive}.{fmt}")

    def feed_id(self, feed: FeedSettings) -> str:
        """The feed's id: the same wherever the site moves, and for every format."""
        if self.query is not None:
            return f"tag:{feed.id_authority}:search:{quote(self.query, safe='')}"
        suffix = f":{self.language}" if self.language else ""
        return f"tag:{feed.id_authority}:feed{suffix}"

    def home(self, feed: FeedSettings) -> str:
        """The page this feed is the feed of (``rel=alternate``)."""
        if self.query is not None:
            return site_url(feed, "search?" + urlencode({"q": self.query}))
        return site_url(feed)


MAIN = Channel()


def feed_path(fmt: FeedFormat, archive: int | None = None) -> str:
    """Path of a feed document relative to ``feed.base_url``: ``feed.atom``, ``archive/1.atom``."""
    return MAIN.path(fmt, archive)


def article_path(article_id: str) -> str:
    """Path of an article page: ``articles/<id>.html`` (the id percent-encoded if it must be)."""
    return f"articles/{id_in_url(article_id)}.html"


def site_url(feed: FeedSettings, path: str = "") -> str:
    """Absolute URL of ``path`` (relative to the site root) on the site at ``feed.base_url``.

    The one place a URL is joined: ``https://x.org/news`` and ``https://x.org/news/`` are
    the same site, and the path always goes below its last segment, never in its place.
    """
    return feed.base_url.rstrip("/") + "/" + path.lstrip("/")


def feed_url(
    feed: FeedSettings, fmt: FeedFormat, archive: int | None = None, channel: Channel = MAIN
) -> str:
    """Absolute URL of a feed document (what WebSub topics and ``rel=self`` use)."""
    return site_url(feed, channel.path(fmt, archive))


def article_url(feed: FeedSettings, article_id: str) -> str:
    """Absolute URL of an article page (what the feeds, pages and Telegram posts link to)."""
    return site_url(feed, article_path(article_id))


def entry_id(feed: FeedSettings, article_id: str) -> str:
    """An article's id in every feed (tag URI)."""
    return f"tag:{feed.id_authority}:article:{id_in_url(article_id)}"
