"""The rendered site: paths, caching per version, ETag, gzip, Last-Modified, path checks."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest

from feedbot.articles.model import ArticleDate, DatePrecision, Entry
from feedbot.config import Settings
from feedbot.publish.feeds import archive_count
from feedbot.publish.site import MemorySource, Site
from feedbot.store import Store, StoreSource
from tests import storekit
from tests.sitekit import START, CountingSource, article, entries, site

SETTINGS = Settings(feed={"max_entries": 10, "base_url": "https://news.example/"})


def test_memory_source_order_and_version() -> None:
    items = entries(5)
    same_day = Entry.of(replace(article(99), date=items[2].article.date, seq=2, id="002_zzz"))
    source = MemorySource([*items, same_day])
    ids = [e.article.id for e in source.newest(0, 10)]
    assert ids[:2] == ["004_0000000000000004", "003_0000000000000003"]
    assert ids[2:4] == ["002_zzz", "002_0000000000000002"]  # same date and seq: id desc
    assert source.count() == 6 and source.get("002_zzz") == same_day
    assert source.get("nope") is None
    assert MemorySource(items).version() == MemorySource(list(reversed(items))).version()
    changed = [*items[:-1], Entry(items[-1].article, datetime(2030, 1, 1, tzinfo=UTC))]
    assert MemorySource(changed).version() != MemorySource(items).version()
    assert MemorySource(items[:-1]).version() != MemorySource(items).version()


def test_paths_cover_the_site() -> None:
    s = Site(MemorySource(entries(45)), SETTINGS.feed)
    paths = list(s.paths())
    archives = archive_count(45, 10)
    assert archives == 4
    assert paths[:3] == ["feed.atom", "feed.rss", "feed.json"]
    assert "archive/4.json" in paths and "archive/5.atom" not in paths
    assert [p for p in paths if p.endswith(".html") and not p.startswith("articles/")] == [
        "index.html",
        "page/2.html",
        "page/3.html",
    ]
    assert sum(p.startswith("articles/") for p in paths) == 45
    listings = ["robots.txt", "feeds.opml", "sitemap.xml", "news-sitemap.xml"]
    italian = 3 + 3 * archives  # every article is Italian: its feed is the site's again
    assert paths[-len(listings) - italian :][: len(listings)] == listings
    assert len(paths) == len(set(paths)) == 3 + 3 * archives + 3 + 45 + len(listings) + italian
    for path in paths:
        assert s.get(path) is not None, path


def test_resource_fields() -> None:
    s = Site(MemorySource(entries(12)), SETTINGS.feed)
    atom = s.get("feed.atom")
    assert atom is not None
    assert atom.content_type == "application/atom+xml; charset=utf-8"
    assert atom.etag == '"' + hashlib.sha256(atom.body).hexdigest()[:32] + '"'
    assert gzip.decompress(atom.gzipped) == atom.body
    assert atom.last_modified == START.replace(day=12)  # the newest entry's updated
    parsed = feedparser.parse(atom.body)
    assert parsed.bozo == 0 and len(parsed.entries) == 10
    rss, js, page = s.get("feed.rss"), s.get("feed.json"), s.get("index.html")
    assert rss is not None and rss.content_type == "application/rss+xml; charset=utf-8"
    assert js is not None and js.content_type == "application/feed+json"
    assert page is not None and page.content_type == "text/html; charset=utf-8"
    old = s.get("articles/000_0000000000000000.html")
    assert old is not None and old.last_modified == START
    archive = s.get("archive/1.atom")
    assert archive is not None and b"fh:archive" in archive.body


def test_deterministic_bytes_and_gzip() -> None:
    one, two = site(30, SETTINGS), site(30, SETTINGS)
    for path in one.paths():
        a, b = one.get(path), two.get(path)
        assert a is not None and b is not None
        assert (a.body, a.gzipped, a.etag) == (b.body, b.gzipped, b.etag)


def test_updated_entry_moves_last_modified() -> None:
    items = entries(3)
    later = datetime(2024, 2, 3, 4, 5, 6, 789, tzinfo=UTC)
    items[0] = Entry(items[0].article, later)
    s = Site(MemorySource(items), SETTINGS.feed)
    page = s.get("articles/000_0000000000000000.html")
    atom = s.get("feed.atom")
    assert page is not None and atom is not None
    assert page.last_modified == atom.last_modified == later.replace(microsecond=0)


def test_empty_site() -> None:
    s = Site(MemorySource([]), SETTINGS.feed)
    assert list(s.paths()) == [
        "feed.atom",
        "feed.rss",
        "feed.json",
        "index.html",
        *("robots.txt", "feeds.opml", "sitemap.xml", "news-sitemap.xml"),
    ]
    atom = s.get("feed.atom")
    assert atom is not None and feedparser.parse(atom.body).bozo == 0
    assert atom.last_modified == datetime(2000, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/feed.atom",
        "feed.xml",
        "../feed.atom",
        "articles/../feed.atom",
        "articles/..%2ffeed.html",
        "articles\\000_0000000000000000.html",
        "articles/000_0000000000000000.html\x00",
        "articles/000_0000000000000000",
        "articles/000%5F0000000000000000.html",  # not how we spell the path
        "articles/nope.html",
        "archive/0.atom",
        "archive/01.atom",
        "archive/9.atom",
        "page/1.html",
        "page/9.html",
        "page/2",
        "index.htm",
        "x" * 1000,
    ],
)
def test_unknown_paths(path: str) -> None:
    assert site(25, SETTINGS).get(path) is None


def test_cache_per_version_and_lazy_lru() -> None:
    source = CountingSource(entries(40))
    s = Site(source, SETTINGS.feed, cache_size=2)
    first = s.get("feed.atom")
    reads = source.reads
    assert s.get("feed.atom") is first and source.reads == reads  # eager: no reads
    page = s.get("articles/001_0000000000000001.html")
    assert s.get("articles/001_0000000000000001.html") is page  # cached
    s.get("archive/1.atom")
    s.get("archive/2.atom")  # evicts the article page (LRU of 2)
    assert s.get("articles/001_0000000000000001.html") is not page
    source.replace_all(entries(41))
    second = s.get("feed.atom")
    assert second is not None and first is not None and second.etag != first.etag
    assert b"Headline 40" in second.body


def test_article_page_follows_changes() -> None:
    source = CountingSource(entries(2))
    s = Site(source, SETTINGS.feed)
    before = s.get("articles/001_0000000000000001.html")
    assert before is not None and b"Headline 1" in before.body
    source.replace_all([entries(1)[0], Entry.of(article(1, headline="Changed"))])
    after = s.get("articles/001_0000000000000001.html")
    assert after is not None and b"Changed" in after.body and after.etag != before.etag
    source.replace_all(entries(1))
    assert s.get("articles/001_0000000000000001.html") is None


def test_lazy_cache_is_bounded_in_bytes() -> None:
    source = CountingSource(entries(60))
    s = Site(source, SETTINGS.feed, cache_bytes=1)  # room for one document only
    first = s.get("archive/1.atom")
    assert s.get("archive/1.atom") is first
    s.get("archive/2.atom")
    assert s.get("archive/1.atom") is not first  # evicted, rendered again
    assert s.get("feed.atom") is s.get("feed.atom")  # the main feeds are not in the LRU


TRICKY_IDS = ["002-b", "002_0a", "002_Zzz", "002_b", "002_zzz"]  # orders differ by collation


def _store_site_matches_memory(store: Store) -> None:
    base = article(2)
    for i, article_id in enumerate(TRICKY_IDS):
        tied = replace(article(i + 3), id=article_id, date=base.date, seq=base.seq)
        storekit.add(store, tied, START)
    for i in range(30):
        storekit.add(store, article(i + 10), START)
    from_store = Site(StoreSource(store.articles), SETTINGS.feed)
    ids = [e.article.id for e in StoreSource(store.articles).newest(0, 100)]
    memory = MemorySource([e for e in map(store.articles.entry, ids) if e is not None])
    assert [e.article.id for e in memory.newest(0, 100)] == ids  # the same order as Python's
    from_memory = Site(memory, SETTINGS.feed)
    paths = list(from_memory.paths())
    assert list(from_store.paths()) == paths
    for path in paths:
        ours, theirs = from_store.get(path), from_memory.get(path)
        assert ours is not None and theirs is not None and ours.body == theirs.body, path


def test_the_site_from_the_store_is_the_site_from_memory(store: Store) -> None:
    """Rendered from the database (either engine) or from memory: the same bytes, the
    same order — ties on date and seq broken by id as Python compares strings."""
    _store_site_matches_memory(store)


@pytest.mark.postgresql
def test_order_does_not_follow_the_database_collation(
    new_pg_database: Callable[..., str], tmp_path: Path
) -> None:
    """A PostgreSQL database that sorts text by en-US (ICU) still orders ids bytewise."""
    store = Store.open(tmp_path / "unused.sqlite3", url=new_pg_database(icu_locale="en-US"))
    try:
        _store_site_matches_memory(store)
    finally:
        store.close()


def test_last_modified_is_when_the_bytes_changed_never_later_than_now() -> None:
    """An article dated ahead does not pin Last-Modified; every change of the bytes moves it."""
    clock = [datetime(2026, 12, 5, 7, 0, 0, 250000, tzinfo=UTC)]
    now = clock[0].replace(microsecond=0)
    june = ArticleDate(datetime(2027, 6, 1, tzinfo=UTC), DatePrecision.DAY)
    ahead = Entry.of(replace(article(500), id="500_ahead", date=june))
    source = CountingSource([*entries(12), ahead])
    s = Site(source, SETTINGS.feed, clock=lambda: clock[0])
    first = s.get("feed.atom")
    assert first is not None and first.last_modified == now  # the date ahead counts as now
    page = s.get("articles/500_ahead.html")
    assert page is not None and page.last_modified == now
    clock[0] += timedelta(minutes=5)
    edited = Entry(article(0, headline="Edited"), entries(1)[0].updated)  # not in the feed
    source.replace_all([edited, *entries(12)[1:], ahead])
    same = s.get("feed.atom")
    assert same is not None and same is not first and same.etag == first.etag
    assert same.last_modified == now  # a new version, the same bytes: unchanged
    source.replace_all([edited, *entries(13)[1:], ahead])  # article 12 (2022) joins: no date moves
    second = s.get("feed.atom")
    assert second is not None and second.etag != first.etag
    assert second.last_modified == clock[0].replace(microsecond=0)
    source.replace_all([edited, *entries(14)[1:], ahead])  # and again within the same second
    third = s.get("feed.atom")
    assert third is not None and third.last_modified == second.last_modified + timedelta(seconds=1)


def test_changed_since_is_the_earliest_last_modified() -> None:
    started = datetime(2026, 12, 5, 7, 0, tzinfo=UTC)
    s = Site(
        MemorySource(entries(3)),
        SETTINGS.feed,
        changed_since=started,
        clock=lambda: started + timedelta(hours=1),
    )
    assert s.get("feed.atom").last_modified == started  # type: ignore[union-attr]
    assert s.get("articles/000_0000000000000000.html").last_modified == started  # type: ignore[union-attr]
