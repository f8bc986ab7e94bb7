"""Sitemaps, the news sitemap, robots.txt and OPML: parsed back, not string-searched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lxml import etree

from feedbot.articles.model import Entry
from feedbot.publish.sitemaps import (
    NEWS_NS,
    NEWS_URLS,
    SITEMAP_NS,
    SITEMAP_URLS,
    news_entries,
    render_news_sitemap,
    render_opml,
    render_robots,
    render_sitemap,
    render_sitemap_index,
    sitemap_count,
)
from tests.publish.test_feeds import BASE, FEED, make_article
from tests.sitekit import article

S = f"{{{SITEMAP_NS}}}"
N = f"{{{NEWS_NS}}}"


def test_sitemap_lists_every_article_with_lastmod() -> None:
    entries = [Entry.of(article(i)) for i in (3, 2, 1)]
    root = etree.fromstring(render_sitemap(entries, FEED))
    locs = [u.findtext(f"{S}loc") for u in root.findall(f"{S}url")]
    assert locs[0] == BASE
    assert locs[1:] == [BASE + f"articles/{e.article.id}.html" for e in entries]
    assert all(u.findtext(f"{S}lastmod").endswith("Z") for u in root.findall(f"{S}url"))


def test_a_big_site_gets_a_sitemap_index() -> None:
    assert sitemap_count(SITEMAP_URLS - 1) == 0
    assert sitemap_count(SITEMAP_URLS) == 1 and sitemap_count(SITEMAP_URLS * 2 + 1) == 3
    root = etree.fromstring(render_sitemap_index(3, FEED))
    assert [s.findtext(f"{S}loc") for s in root] == [BASE + f"sitemaps/{n}.xml" for n in (1, 2, 3)]


def test_news_sitemap_keeps_48_hours_and_at_most_1000() -> None:
    now = datetime(2022, 3, 1, 12, tzinfo=UTC)
    old = make_article(1, headline="Vecchio <b> & co")
    entries = [Entry.of(article(i)) for i in range(60, 0, -1)]
    chosen = news_entries(entries, entries[0].article.date.value + timedelta(hours=1))
    assert [e.article.id for e in chosen] == [entries[0].article.id, entries[1].article.id]
    many = [Entry.of(article(5))] * (NEWS_URLS + 10)
    assert len(news_entries(many, article(5).date.value)) == NEWS_URLS
    root = etree.fromstring(render_news_sitemap([Entry.of(old)], FEED))
    news = root.find(f"{S}url/{N}news")
    assert news.findtext(f"{N}title") == "Vecchio <b> & co"
    assert news.findtext(f"{N}publication/{N}name") == FEED.title
    assert news.findtext(f"{N}publication_date").endswith("Z")
    del now


def test_robots_names_both_sitemaps() -> None:
    text = render_robots(FEED).decode()
    assert f"Sitemap: {BASE}sitemap.xml" in text.splitlines()
    assert f"Sitemap: {BASE}news-sitemap.xml" in text.splitlines()


def test_opml_lists_the_site_feed_and_each_language() -> None:
    root = etree.fromstring(render_opml(["en", "it"], FEED, datetime(2026, 1, 1, tzinfo=UTC)))
    assert root.get("version") == "2.0"
    urls = [o.get("xmlUrl") for o in root.iter("outline")]
    assert urls == [BASE + "feed.atom", BASE + "en/feed.atom", BASE + "it/feed.atom"]
    assert root.findtext("head/dateModified") == "Thu, 01 Jan 2026 00:00:00 GMT"
