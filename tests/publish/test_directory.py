"""The listings a site serves besides its feeds and pages: each language's feeds,
sitemaps, the news sitemap, robots.txt and OPML — through `Site`, as the daemon and a
static build read them; parsed back, never string-searched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
from lxml import etree

from feedbot.articles.model import Entry
from feedbot.publish.site import MemorySource, Site
from feedbot.publish.sitemaps import NEWS_NS, SITEMAP_NS
from feedbot.store import Store, StoreSource
from tests.publish.test_feeds import BASE, FEED
from tests.sitekit import article
from tests.storekit import add, remove

S, N = f"{{{SITEMAP_NS}}}", f"{{{NEWS_NS}}}"


def site(clock_day: int = 12) -> tuple[Site, list[Entry]]:
    entries = [Entry.of(article(i, language="it" if i % 3 else "en")) for i in range(12)]
    newest = max(e.article.date.value for e in entries)
    return Site(MemorySource(entries), FEED, clock=lambda: newest + timedelta(hours=1)), entries


def body(s: Site, path: str) -> bytes:
    resource = s.get(path)
    assert resource is not None, path
    return resource.body


def test_each_language_has_its_feeds_and_archives() -> None:
    s, entries = site()
    italian = [e.article.id for e in entries if e.article.language == "it"]
    parsed = feedparser.parse(body(s, "it/feed.atom"))
    assert parsed.bozo == 0 and parsed.feed.id == "tag:news.example,2026:feed:it"
    got = [e.id.rsplit(":", 1)[1] for e in parsed.entries]
    assert set(got) <= set(italian) and len(got) == FEED.max_entries
    assert s.get("it/archive/1.atom") is not None  # 8 Italian articles, 5 a document
    assert s.get("it/archive/2.atom") is None
    assert feedparser.parse(body(s, "en/feed.rss")).bozo == 0
    assert s.get("fr/feed.atom") is None and s.get("xx/feed.json") is None


def test_sitemaps_robots_and_opml() -> None:
    s, entries = site()
    urls = etree.fromstring(body(s, "sitemap.xml")).findall(f"{S}url")
    assert len(urls) == len(entries) + 1  # and the home page
    news = etree.fromstring(body(s, "news-sitemap.xml")).findall(f"{S}url")
    ids = [e.article.id for e in entries[::-1][:2]]  # the last 48 hours: two days
    assert [u.findtext(f"{S}loc") for u in news] == [BASE + f"articles/{i}.html" for i in ids]
    assert f"Sitemap: {BASE}sitemap.xml" in body(s, "robots.txt").decode()
    opml = etree.fromstring(body(s, "feeds.opml"))
    assert [o.get("xmlUrl") for o in opml.iter("outline")] == [
        BASE + "feed.atom",
        BASE + "en/feed.atom",
        BASE + "it/feed.atom",
    ]
    assert s.get("sitemaps/1.xml") is None  # one sitemap holds them all


def test_a_static_build_lists_them_too() -> None:
    s, _ = site()
    paths = set(s.paths())
    for path in ("robots.txt", "sitemap.xml", "news-sitemap.xml", "feeds.opml", "it/feed.atom"):
        assert path in paths
        assert s.get(path) is not None
    assert "it/archive/1.json" in paths and "en/archive/1.atom" not in paths


def test_the_store_lists_languages_and_their_entries(store: Store) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(6):
        add(store, article(i, language="it" if i % 2 else "en"), now)
    remove(store, article(5).id, now)
    source = StoreSource(store.articles)
    assert list(source.languages()) == ["en", "it"]
    assert source.count("it") == 2 and source.count("en") == 3 and source.count() == 5
    assert [e.article.id for e in source.newest(0, 10, "it")] == [article(3).id, article(1).id]
    s = Site(source, FEED)
    assert feedparser.parse(body(s, "en/feed.atom")).bozo == 0
