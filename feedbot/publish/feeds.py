"""Feeds: Atom and RSS 2.0 (feedgen) and JSON Feed 1.1 — pure: entries in, bytes out.

The newest ``feed.max_entries`` entries make the main (subscription) document;
older ones go to RFC 5005 archive documents (``archive/1.atom`` is the oldest).
The same entries always give byte-identical documents: every date comes from
the data, never from the clock.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator

from feedbot.articles.dates import rfc3339, utc
from feedbot.articles.i18n import language_name
from feedbot.articles.model import Article, DatePrecision, Entry
from feedbot.config import FeedSettings
from feedbot.publish.body import article_html, clean_entries, clean_text
from feedbot.publish.urls import (
    MAIN,
    Channel,
    FeedFormat,
    article_path,
    article_url,
    entry_id,
    feed_path,
    feed_url,
    site_url,
)

__all__ = [
    "EMPTY_FEED_UPDATED",
    "MAIN",
    "MEDIA_TYPES",
    "Channel",
    "FeedDoc",
    "FeedFormat",
    "archive_count",
    "archive_range",
    "article_html",
    "article_path",
    "article_url",
    "entry_updated",
    "feed_path",
    "feed_url",
    "looks_like_markup",
    "render_atom",
    "render_json",
    "render_rss",
    "site_url",
]

# Content types of the documents (the HTTP layer adds `; charset=utf-8` to the XML ones).
MEDIA_TYPES: dict[FeedFormat, str] = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}
# The `updated` of a feed with no entries: fixed, so an empty feed is deterministic too.
EMPTY_FEED_UPDATED = datetime(2000, 1, 1, tzinfo=UTC)
HISTORY_NS = "http://purl.org/syndication/history/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"


@dataclass(frozen=True, slots=True)
class FeedDoc:
    """One feed document: the main one (``archive`` None) or archive page ``archive``."""

    entries: Sequence[Entry]  # newest first
    archive: int | None  # None = the main (subscription) document; 1 = the oldest archive
    archives: int  # number of archive documents that exist
    channel: Channel = MAIN  # which feed: the site's, a language's, a search's


def archive_count(total: int, per_page: int) -> int:
    """How many archive documents ``total`` entries need beside a main document of ``per_page``."""
    return max(0, -(-(total - per_page) // per_page))


def archive_range(number: int, total: int, per_page: int) -> tuple[int, int]:
    """Newest-first (offset, limit) of archive `number` (1 = oldest). Complete archives never change
    when newer entries are added."""
    start = (number - 1) * per_page  # oldest-first positions [start, end)
    end = min(number * per_page, total - per_page)
    return total - end, end - start


def _author(feed: FeedSettings) -> dict[str, str]:
    author = {"name": clean_text(feed.author_name)}
    if feed.author_email:
        author["email"] = clean_text(feed.author_email)
    return author


# --- Dates --------------------------------------------------------------------------------------


def entry_updated(entry: Entry) -> datetime:
    """The ``updated`` time the feeds show for an entry (UTC).

    A day or month date has no time of day, so articles of one date would all share
    one ``updated`` (validators warn: readers cannot tell them apart). While an entry
    is unchanged, its sequence number breaks the tie as seconds after the date's
    midnight; a changed entry shows the time the change was detected.
    """
    updated = utc(entry.updated)
    date = entry.article.date
    if date.precision is not DatePrecision.INSTANT and updated == utc(date.value):
        return updated + timedelta(seconds=entry.article.seq % 86_400)
    return updated


def _doc_updated(entries: Sequence[Entry]) -> datetime:
    return max((entry_updated(e) for e in entries), default=EMPTY_FEED_UPDATED)


# --- Links --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Link:
    rel: str
    href: str
    type: str


def _links(doc: FeedDoc, feed: FeedSettings, fmt: FeedFormat) -> list[_Link]:
    """The document's own links, in a fixed order: self, alternate, hub, current, archives."""
    media = MEDIA_TYPES[fmt]
    channel = doc.channel

    def url(archive: int | None) -> str:
        return feed_url(feed, fmt, archive, channel)

    links = [
        _Link("self", url(doc.archive), media),
        _Link("alternate", channel.home(feed), "text/html"),
    ]
    if doc.archive is None:
        if feed.websub_hub and channel == MAIN:  # the daemon pings the hub for these only
            links.append(_Link("hub", feed.websub_hub, ""))
        if doc.archives:
            links.append(_Link("prev-archive", url(doc.archives), media))
        return links
    links.append(_Link("current", url(None), media))
    if doc.archive > 1:
        links.append(_Link("prev-archive", url(doc.archive - 1), media))
    if doc.archive < doc.archives:
        links.append(_Link("next-archive", url(doc.archive + 1), media))
    return links


def _feed_title(doc: FeedDoc, feed: FeedSettings) -> str:
    """The site's title; a language's feed adds the language, a search's the query."""
    title = clean_text(feed.title)
    if doc.channel.query is not None:
        return f"{title}: {clean_text(doc.channel.query)}"
    if doc.channel.language:
        return f"{title} ({language_name(doc.channel.language, doc.channel.language)})"
    return title


# --- Atom and RSS (feedgen) ---------------------------------------------------------------------


class _FeedExtension(BaseExtension):  # type: ignore[misc]
    """Adds what feedgen cannot: ``fh:archive``, RSS ``atom:link``s, ``Z`` dates."""

    archive: bool = False
    rss_links: Sequence[_Link] = ()

    def extend_ns(self) -> dict[str, str]:
        return {"fh": HISTORY_NS} if self.archive else {}

    def extend_atom(self, feed: Any) -> Any:
        updated = feed.find("updated")
        updated.text = updated.text.replace("+00:00", "Z")
        if self.archive:
            feed.append(feed.makeelement(f"{{{HISTORY_NS}}}archive"))
        return feed

    def extend_rss(self, feed: Any) -> Any:
        channel = feed[0]
        for link in self.rss_links:
            attrs = {"href": link.href, "rel": link.rel}
            if link.type:
                attrs["type"] = link.type
            channel.append(channel.makeelement(f"{{{ATOM_NS}}}link", attrs))
        if self.archive:
            channel.append(channel.makeelement(f"{{{HISTORY_NS}}}archive"))
        return feed


def looks_like_markup(text: str) -> bool:
    """Whether a reader that takes titles as HTML, whatever their type, would see markup
    in ``text``: a tag (``<b``, ``</``, ``<!``) or a character reference (``&amp;``)."""
    return _MARKUP.search(text) is not None


_MARKUP = re.compile(r"<[A-Za-z/!?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")


class _EntryExtension(BaseEntryExtension):  # type: ignore[misc]
    """Per entry: the title's type, ``xml:lang``, the alternate link's rel, ``Z`` dates.

    A headline is ``type="text"``, unless it looks like markup (`looks_like_markup`):
    then ``type="html"`` with the text escaped once more, so that it displays literally
    in readers that honour the type and cannot turn into markup in those that ignore it
    and read every title as HTML (rss-parser, and the bots built on it)."""

    language: str | None = None
    headline: str = ""

    def extend_atom(self, entry: Any) -> Any:
        entry.find("title").attrib["type"] = "html" if looks_like_markup(self.headline) else "text"
        link = entry.find("link")
        link.attrib["rel"] = "alternate"  # feedgen 1.0 drops it (issue #135)
        link.attrib["type"] = "text/html"
        for name in ("updated", "published"):
            element = entry.find(name)
            element.text = element.text.replace("+00:00", "Z")
        if self.language:
            entry.attrib[XML_LANG] = self.language
        return entry

    def extend_rss(self, item: Any) -> Any:
        # RSS has no title type; the RSS Best Practices profile reads it as plain text.
        item.find("title").text = self.headline
        return item


def _generator(doc: FeedDoc, feed: FeedSettings, fmt: Literal["atom", "rss"]) -> FeedGenerator:
    """A FeedGenerator filled from the document; entries appended newest first."""
    fg = FeedGenerator()
    fg.register_extension("feedbot", _FeedExtension, _EntryExtension)
    fg.feedbot.archive = doc.archive is not None
    fg.id(doc.channel.feed_id(feed))
    fg.title(_feed_title(doc, feed))
    fg.subtitle(clean_text(feed.subtitle))
    fg.description(clean_text(feed.subtitle))
    fg.language(feed.language)
    fg.author(_author(feed))
    fg.generator("feedbot")
    updated = _doc_updated(doc.entries)
    fg.updated(updated)
    fg.lastBuildDate(updated)
    links = _links(doc, feed, fmt)
    if fmt == "atom":
        for link in links:
            attrs = {"href": link.href, "rel": link.rel}
            if link.type:
                attrs["type"] = link.type
            fg.link(attrs)
    else:
        # feedgen writes the first self link as atom:link and uses the last link as <link>.
        fg.link(href=links[0].href, rel="self", type=links[0].type)
        fg.link(href=links[1].href, rel="alternate")
        fg.feedbot.rss_links = links[2:]
    for entry in clean_entries(doc.entries):
        _add_entry(fg.add_entry(order="append"), entry, feed)
    return fg


def _title(article: Article) -> str:
    """The headline, or the article id when there is none (feeds need a title)."""
    return article.headline or article.id


def _add_entry(fe: FeedEntry, entry: Entry, feed: FeedSettings) -> None:
    article = entry.article
    fe.id(entry_id(feed, article.id))
    title = _title(article)
    fe.title(html.escape(title, quote=False) if looks_like_markup(title) else title)
    fe.feedbot.headline = title
    if article.language not in ("", "und", feed.language):
        fe.feedbot.language = article.language
    fe.updated(entry_updated(entry))
    fe.published(utc(article.date.value))
    fe.pubDate(utc(article.date.value))
    fe.author(_author(feed))
    fe.link(href=article_url(feed, article.id), rel="alternate", type="text/html")
    if article.lead_summary:  # type="html" too, so text that looks like markup stays text
        fe.summary(html.escape(article.lead_summary, quote=False), type="html")
    fe.content(article_html(article), type="html")


def render_atom(doc: FeedDoc, feed: FeedSettings) -> bytes:
    """The Atom (RFC 4287) document, with RFC 5005 archive links."""
    data: bytes = _generator(doc, feed, "atom").atom_str(pretty=True, encoding="UTF-8")
    return data


def render_rss(doc: FeedDoc, feed: FeedSettings) -> bytes:
    """The RSS 2.0 document (guid = the entry's tag URI, content in ``content:encoded``)."""
    data: bytes = _generator(doc, feed, "rss").rss_str(pretty=True, encoding="UTF-8")
    return data


# --- JSON Feed ----------------------------------------------------------------------------------


def render_json(doc: FeedDoc, feed: FeedSettings) -> bytes:
    """The JSON Feed 1.1 document; ``next_url`` leads to the next-older archive."""
    author = {"name": clean_text(feed.author_name)}  # JSON Feed authors have no email
    obj: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": _feed_title(doc, feed),
        "home_page_url": doc.channel.home(feed),
        "feed_url": feed_url(feed, "json", doc.archive, doc.channel),
        "description": clean_text(feed.subtitle),
        "language": feed.language,
        "authors": [author],
    }
    older = doc.archives if doc.archive is None else doc.archive - 1
    if older >= 1:
        obj["next_url"] = feed_url(feed, "json", older, doc.channel)
    if doc.archive is None and feed.websub_hub and doc.channel == MAIN:
        obj["hubs"] = [{"type": "WebSub", "url": feed.websub_hub}]
    items = []
    for entry in clean_entries(doc.entries):
        article = entry.article
        item: dict[str, Any] = {
            "id": entry_id(feed, article.id),
            "url": article_url(feed, article.id),
            "title": _title(article),
            "content_html": article_html(article),
        }
        if article.lead_summary:
            item["summary"] = article.lead_summary
        item["date_published"] = rfc3339(article.date.value)
        item["date_modified"] = rfc3339(entry_updated(entry))
        item["authors"] = [author]
        if article.language not in ("", "und"):
            item["language"] = article.language
        items.append(item)
    obj["items"] = items
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
