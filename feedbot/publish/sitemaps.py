"""What search engines and feed readers read to find everything: sitemaps, the Google
News sitemap, robots.txt and the OPML list of feeds — pure: entries in, bytes out.

- ``sitemap.xml``: every published article page with its ``lastmod`` (the entry's
  ``updated``), and the home page. Past `SITEMAP_URLS` URLs (the protocol's limit) it is a
  sitemap index of ``sitemaps/<n>.xml``.
- ``news-sitemap.xml``: Google News' rules — the articles published in the last
  `NEWS_WINDOW` (48 hours), at most `NEWS_URLS` (1,000), newest first, with publication,
  language, date and title.
- ``robots.txt``: everything allowed; names both sitemaps.
- ``feeds.opml``: OPML 2.0, one outline per feed the site offers (the site's feed and
  each language's), in Atom: a reader imports each once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from xml.etree import ElementTree as etree

from feedbot.articles.dates import rfc3339, utc
from feedbot.articles.model import Entry
from feedbot.config import FeedSettings
from feedbot.publish.body import clean_text
from feedbot.publish.feeds import entry_updated
from feedbot.publish.urls import Channel, article_url, feed_url, site_url

__all__ = [
    "NEWS_URLS",
    "NEWS_WINDOW",
    "SITEMAP_URLS",
    "news_entries",
    "render_news_sitemap",
    "render_opml",
    "render_robots",
    "render_sitemap",
    "render_sitemap_index",
    "sitemap_count",
    "sitemap_path",
]

SITEMAP_URLS = 50_000
NEWS_URLS = 1_000
NEWS_WINDOW = timedelta(hours=48)
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
etree.register_namespace("", SITEMAP_NS)  # process-wide: these prefixes are the usual ones
etree.register_namespace("news", NEWS_NS)


def sitemap_count(total: int) -> int:
    """How many sitemap files ``total`` articles need (0: ``sitemap.xml`` holds them all)."""
    return 0 if total + 1 <= SITEMAP_URLS else -(-total // SITEMAP_URLS)


def sitemap_path(number: int) -> str:
    """Path of sitemap file ``number`` (1-based) of a site too big for one."""
    return f"sitemaps/{number}.xml"


def _xml(root: etree.Element) -> bytes:
    etree.indent(root)
    text = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}\n'.encode()


def _url(parent: etree.Element, loc: str, lastmod: datetime | None) -> etree.Element:
    url = etree.SubElement(parent, f"{{{SITEMAP_NS}}}url")
    etree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = loc
    if lastmod is not None:
        etree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = rfc3339(lastmod)
    return url


def render_sitemap(entries: Sequence[Entry], feed: FeedSettings, *, home: bool = True) -> bytes:
    """A ``urlset`` of the article pages of ``entries`` (and the home page)."""
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset")
    if home:
        newest = max((entry_updated(e) for e in entries), default=None)
        _url(root, site_url(feed), newest)
    for entry in entries:
        _url(root, article_url(feed, entry.article.id), entry_updated(entry))
    return _xml(root)


def render_sitemap_index(count: int, feed: FeedSettings) -> bytes:
    """A sitemap index of ``count`` sitemap files."""
    root = etree.Element(f"{{{SITEMAP_NS}}}sitemapindex")
    for number in range(1, count + 1):
        sitemap = etree.SubElement(root, f"{{{SITEMAP_NS}}}sitemap")
        etree.SubElement(sitemap, f"{{{SITEMAP_NS}}}loc").text = site_url(
            feed, sitemap_path(number)
        )
    return _xml(root)


def news_entries(entries: Sequence[Entry], now: datetime) -> list[Entry]:
    """Of ``entries`` (newest first), those a news sitemap lists at ``now``."""
    since = utc(now) - NEWS_WINDOW
    fresh = [e for e in entries if since <= utc(e.article.date.value) <= utc(now)]
    return fresh[:NEWS_URLS]


def render_news_sitemap(entries: Sequence[Entry], feed: FeedSettings) -> bytes:
    """The Google News sitemap of ``entries`` (already chosen by `news_entries`)."""
    root = etree.Element(f"{{{SITEMAP_NS}}}urlset")
    for entry in entries:
        article = entry.article
        url = _url(root, article_url(feed, article.id), None)
        news = etree.SubElement(url, f"{{{NEWS_NS}}}news")
        publication = etree.SubElement(news, f"{{{NEWS_NS}}}publication")
        etree.SubElement(publication, f"{{{NEWS_NS}}}name").text = clean_text(feed.title)
        language = article.language if article.language not in ("", "und") else feed.language
        etree.SubElement(publication, f"{{{NEWS_NS}}}language").text = language
        etree.SubElement(news, f"{{{NEWS_NS}}}publication_date").text = rfc3339(article.date.value)
        title = clean_text(article.headline) or article.id
        etree.SubElement(news, f"{{{NEWS_NS}}}title").text = title
    return _xml(root)


def render_robots(feed: FeedSettings) -> bytes:
    """robots.txt: crawl everything; where the sitemaps are."""
    lines = [
        "User-agent: *",
        "Allow: /",
        "",
        f"Sitemap: {site_url(feed, 'sitemap.xml')}",
        f"Sitemap: {site_url(feed, 'news-sitemap.xml')}",
    ]
    return ("\n".join(lines) + "\n").encode()


def render_opml(languages: Sequence[str], feed: FeedSettings, updated: datetime) -> bytes:
    """OPML 2.0: the site's feed, then each language's (Atom)."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    title = clean_text(feed.title)
    etree.SubElement(head, "title").text = f"{title}: feeds"
    etree.SubElement(head, "dateModified").text = utc(updated).strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = etree.SubElement(root, "body")
    for channel in [Channel(), *(Channel(language=code) for code in languages)]:
        text = title if channel.language is None else f"{title} ({channel.language})"
        attrs = {
            "type": "rss",
            "text": text,
            "title": text,
            "xmlUrl": feed_url(feed, "atom", None, channel),
            "htmlUrl": site_url(feed),
        }
        if channel.language:
            attrs["language"] = channel.language
        etree.SubElement(body, "outline", attrs)
    return _xml(root)
