"""Feeds: Atom/RSS/JSON Feed checked by feedparser, the RFC 4287 schema and explicit MUSTs."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feedbot.articles.model import (
    Article,
    ArticleDate,
    Block,
    BlockKind,
    DatePrecision,
    Entry,
    Section,
)
from feedbot.articles.parse import parse
from feedbot.config import FeedSettings
from feedbot.publish.body import clean_text
from feedbot.publish.feeds import (
    EMPTY_FEED_UPDATED,
    FeedDoc,
    archive_count,
    archive_range,
    article_html,
    article_path,
    article_url,
    entry_updated,
    feed_path,
    feed_url,
    looks_like_markup,
    render_atom,
    render_json,
    render_rss,
    site_url,
)
from feedbot.publish.pages import render_article
from feedbot.telegram.render.links import ArticleLinks
from feedbot.telegram.render.messages import render_latest
from tests.conftest import SEED

DATA = Path(__file__).parents[1] / "data"
ATOM = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
SCHEMA = etree.RelaxNG(etree.parse(str(DATA / "atom.rng")))
BASE = "https://news.example/feedbot/"
FEED = FeedSettings(
    base_url=BASE,
    id_authority="news.example,2026",
    title="Example News",
    subtitle="All the news",
    author_name="The Desk",
    author_email="desk@news.example",
    language="en",
    max_entries=5,
)
T0 = datetime(2022, 1, 1, tzinfo=UTC)


def make_article(
    n: int,
    *,
    headline: str | None = None,
    body: str = "Body text of the article.",
    language: str = "en",
    date: ArticleDate | None = None,
) -> Article:
    lead = Section(
        None,
        (Block(BlockKind.PARAGRAPH, body, 3),),
        f"Lead summary {n}.",
    )
    second = Section(
        "A heading",
        (
            Block(BlockKind.QUOTE_INTRO, "The minister said:", 7),
            Block(BlockKind.QUOTE, '"We will stay."', 9),
            Block(BlockKind.CAPTION, "The minister. Screengrab by AFP video", 11),
        ),
        "Second summary.",
    )
    return Article(
        id=f"{n:03d}_{n:016x}",
        seq=n,
        date=date or ArticleDate(T0 + timedelta(days=n), DatePrecision.DAY),
        headline=headline if headline is not None else f"Headline {n}",
        language=language,
        sections=(lead, second),
    )


def make_entries(count: int) -> list[Entry]:
    """``count`` entries, newest first."""
    return [Entry.of(make_article(n)) for n in reversed(range(count))]


def docs(entries: Sequence[Entry], per_page: int) -> list[FeedDoc]:
    """The main document and every archive for ``entries`` (newest first)."""
    archives = archive_count(len(entries), per_page)
    out = [FeedDoc(entries[:per_page], None, archives)]
    for number in range(1, archives + 1):
        offset, limit = archive_range(number, len(entries), per_page)
        out.append(FeedDoc(entries[offset : offset + limit], number, archives))
    return out


def links(element: etree._Element) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for link in element.findall(f"{ATOM}link"):
        found.setdefault(link.get("rel", "alternate"), []).append(link.get("href"))
    return found


def check_atom(data: bytes, self_url: str, alternate: str = BASE) -> etree._Element:
    """Every RFC 4287 MUST we can check, plus the schema; returns the root."""
    root = etree.fromstring(data)
    SCHEMA.assertValid(root)
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == FEED.language
    feed_links = links(root)
    assert feed_links["self"] == [self_url]
    assert self_url.startswith("https://")
    assert feed_links["alternate"] == [alternate]
    assert root.find(f"{ATOM}author/{ATOM}name").text == FEED.author_name
    ids = []
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated", "published", "summary", "content"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert len(entry.findall(f"{ATOM}author")) == 1
        entry_links = entry.findall(f"{ATOM}link")
        assert len(entry_links) == 1
        assert entry_links[0].get("rel") == "alternate"
        assert entry_links[0].get("href").startswith(BASE + "articles/")
        title = entry.find(f"{ATOM}title")
        markup = looks_like_markup(html.unescape(title.text or ""))
        assert title.get("type") == ("html" if markup else "text")
        assert entry.find(f"{ATOM}content").get("type") == "html"
        assert entry.find(f"{FH}archive") is None
        ids.append(entry.find(f"{ATOM}id").text)
    assert len(ids) == len(set(ids)), "duplicate entry ids"
    for date in root.iter(f"{ATOM}updated", f"{ATOM}published"):
        assert RFC3339.match(date.text), date.text
    if ids:
        newest = max(e.find(f"{ATOM}updated").text for e in root.findall(f"{ATOM}entry"))
        assert root.find(f"{ATOM}updated").text == newest
    return root


# --- paths and archive arithmetic ---------------------------------------------------------------


def test_paths() -> None:
    assert feed_path("atom") == "feed.atom"
    assert feed_path("rss") == "feed.rss"
    assert feed_path("json") == "feed.json"
    assert feed_path("atom", 3) == "archive/3.atom"
    assert feed_path("json", 1) == "archive/1.json"
    assert article_path("000_52a7b11c330feae9") == "articles/000_52a7b11c330feae9.html"
    assert article_path("a b/c") == "articles/a%20b%2Fc.html"


@pytest.mark.parametrize(
    ("total", "per_page", "expected"),
    [(0, 50, 0), (1, 50, 0), (50, 50, 0), (51, 50, 1), (100, 50, 1), (101, 50, 2), (120, 50, 2)],
)
def test_archive_count(total: int, per_page: int, expected: int) -> None:
    assert archive_count(total, per_page) == expected


def test_archive_range_example() -> None:
    # 120 entries, 50 a page: main = newest 50; archive 2 = the next 20; archive 1 = the oldest 50.
    assert archive_range(2, 120, 50) == (50, 20)
    assert archive_range(1, 120, 50) == (70, 50)


@given(total=st.integers(0, 600), per_page=st.integers(1, 60), added=st.integers(0, 200))
def test_archives_partition_and_complete_ones_are_stable(
    total: int, per_page: int, added: int
) -> None:
    archives = archive_count(total, per_page)
    seen: list[int] = list(range(min(total, per_page)))  # newest-first positions in main
    for number in range(1, archives + 1):
        offset, limit = archive_range(number, total, per_page)
        assert 1 <= limit <= per_page
        seen.extend(range(offset, offset + limit))
    assert sorted(seen) == list(range(total))  # every entry exactly once

    # Oldest-first positions never move when newer entries are added, so a full archive keeps
    # exactly the same entries.
    grown = total + added
    for number in range(1, archives + 1):
        offset, limit = archive_range(number, total, per_page)
        if limit < per_page:
            continue
        new_offset, new_limit = archive_range(number, grown, per_page)
        assert new_limit == limit
        assert total - offset == grown - new_offset


# --- Atom ---------------------------------------------------------------------------------------


def test_atom_main_document() -> None:
    entries = make_entries(3)
    data = render_atom(FeedDoc(entries, None, 0), FEED)
    root = check_atom(data, BASE + "feed.atom")
    assert root.find(f"{ATOM}id").text == "tag:news.example,2026:feed"
    assert root.find(f"{ATOM}title").text == "Example News"
    assert root.find(f"{ATOM}subtitle").text == "All the news"
    assert root.find(f"{FH}archive") is None
    assert "prev-archive" not in links(root)

    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    assert parsed.feed.id == "tag:news.example,2026:feed"
    assert parsed.feed.updated == "2022-01-03T00:00:02Z"  # newest entry's, seq 2
    assert [e.id for e in parsed.entries] == [
        f"tag:news.example,2026:article:{n:03d}_{n:016x}" for n in (2, 1, 0)
    ]
    first = parsed.entries[0]
    assert first.title == "Headline 2"
    assert first.link == BASE + "articles/002_0000000000000002.html"
    assert first.published == "2022-01-03T00:00:00Z"
    assert first.updated == "2022-01-03T00:00:02Z"
    assert first.author == "The Desk (desk@news.example)"
    assert first.summary == "Lead summary 2."
    assert first.content[0].type == "text/html"
    assert first.content[0].value == article_html(entries[0].article)
    assert "<h2>A heading</h2>" in first.content[0].value
    assert "Lead summary" not in first.content[0].value


def test_atom_entry_updated_and_month_precision() -> None:
    month = ArticleDate(datetime(2021, 11, 1, tzinfo=UTC), DatePrecision.MONTH)
    article = make_article(7, date=month)
    changed = datetime(2021, 12, 24, 9, 30, 15, tzinfo=UTC)
    data = render_atom(FeedDoc([Entry(article, changed)], None, 0), FEED)
    root = check_atom(data, BASE + "feed.atom")
    entry = root.find(f"{ATOM}entry")
    assert entry.find(f"{ATOM}published").text == "2021-11-01T00:00:00Z"
    assert entry.find(f"{ATOM}updated").text == "2021-12-24T09:30:15Z"
    assert root.find(f"{ATOM}updated").text == "2021-12-24T09:30:15Z"


def test_entries_of_one_day_have_distinct_updated() -> None:
    day = ArticleDate(datetime(2022, 3, 4, tzinfo=UTC), DatePrecision.DAY)
    instant = ArticleDate(datetime(2022, 3, 4, 9, 30, tzinfo=UTC), DatePrecision.INSTANT)
    changed = datetime(2022, 3, 5, 8, 0, 0, 123456, tzinfo=UTC)
    entries = [
        Entry(make_article(3, date=day), changed),
        Entry.of(make_article(2, date=day)),
        Entry.of(make_article(1, date=day)),
        Entry.of(make_article(4, date=instant)),
    ]
    assert [entry_updated(e) for e in entries] == [
        changed,  # a changed entry shows when the change was seen
        datetime(2022, 3, 4, 0, 0, 2, tzinfo=UTC),  # unchanged: the date + seq seconds
        datetime(2022, 3, 4, 0, 0, 1, tzinfo=UTC),
        datetime(2022, 3, 4, 9, 30, tzinfo=UTC),  # a full timestamp is kept as it is
    ]
    root = check_atom(render_atom(FeedDoc(entries, None, 0), FEED), BASE + "feed.atom")
    updated = [e.find(f"{ATOM}updated").text for e in root.findall(f"{ATOM}entry")]
    assert len(set(updated)) == 4
    assert updated[0] == "2022-03-05T08:00:00.123456Z"
    published = [e.find(f"{ATOM}published").text for e in root.findall(f"{ATOM}entry")]
    assert published[:3] == ["2022-03-04T00:00:00Z"] * 3


def test_atom_entry_language_only_when_it_differs() -> None:
    entries = [
        Entry.of(make_article(2, language="it")),
        Entry.of(make_article(1, language="und")),  # undetermined: the feed's language holds
        Entry.of(make_article(0)),
    ]
    root = check_atom(render_atom(FeedDoc(entries, None, 0), FEED), BASE + "feed.atom")
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    assert [e.get(lang) for e in root.findall(f"{ATOM}entry")] == ["it", None, None]
    parsed = feedparser.parse(render_atom(FeedDoc(entries, None, 0), FEED))
    assert parsed.entries[0].title_detail.language == "it"


def test_schema_rejects_what_rfc_4287_forbids() -> None:
    data = render_atom(FeedDoc(make_entries(2), None, 0), FEED)
    root = etree.fromstring(data)
    assert SCHEMA.validate(root)
    entry = root.find(f"{ATOM}entry")
    entry.remove(entry.find(f"{ATOM}id"))
    assert not SCHEMA.validate(root)
    root = etree.fromstring(data)
    root.find(f"{ATOM}updated").text = "2022-01-03 00:00:00"
    assert not SCHEMA.validate(root)


def test_atom_empty_feed() -> None:
    root = check_atom(render_atom(FeedDoc([], None, 0), FEED), BASE + "feed.atom")
    assert root.find(f"{ATOM}updated").text == "2000-01-01T00:00:00Z"
    assert EMPTY_FEED_UPDATED.year == 2000
    assert root.findall(f"{ATOM}entry") == []


def test_atom_archives() -> None:
    entries = make_entries(12)  # per page 5: main 5, archive 2 = 2 entries, archive 1 = 5
    main, *archives = docs(entries, 5)
    assert len(archives) == 2
    atom = "application/atom+xml"

    root = check_atom(render_atom(main, FEED), BASE + "feed.atom")
    assert links(root)["prev-archive"] == [BASE + "archive/2.atom"]
    assert "current" not in links(root)
    assert root.find(f"{FH}archive") is None
    assert all(link.get("type") == atom for link in root.findall(f"{ATOM}link[@rel='self']"))

    newest = check_atom(render_atom(archives[1], FEED), BASE + "archive/2.atom")
    assert newest.find(f"{FH}archive") is not None
    assert links(newest)["current"] == [BASE + "feed.atom"]
    assert links(newest)["prev-archive"] == [BASE + "archive/1.atom"]
    assert "next-archive" not in links(newest)

    oldest = check_atom(render_atom(archives[0], FEED), BASE + "archive/1.atom")
    assert links(oldest)["next-archive"] == [BASE + "archive/2.atom"]
    assert "prev-archive" not in links(oldest)
    assert links(oldest)["current"] == [BASE + "feed.atom"]

    ids = []
    for doc in (main, *archives):
        parsed = feedparser.parse(render_atom(doc, FEED))
        assert parsed.bozo == 0
        ids.extend(e.id for e in parsed.entries)
    assert len(ids) == len(set(ids)) == 12
    assert [len(feedparser.parse(render_atom(d, FEED)).entries) for d in docs(entries, 5)] == [
        5,  # main
        5,  # archive 1, the oldest
        2,  # archive 2
    ]


def test_complete_archive_unchanged_when_entries_are_added() -> None:
    before = docs(make_entries(17), 5)  # archives: 1 [0,5) 2 [5,10) 3 [10,12)
    after = docs(make_entries(21), 5)  # archives: 1, 2, 3 [10,15) 4 [15,16)
    assert render_atom(before[1], FEED) == render_atom(after[1], FEED)
    assert render_atom(before[2], FEED) == render_atom(after[2], FEED)
    assert render_json(before[1], FEED) == render_json(after[1], FEED)
    assert render_rss(before[1], FEED) == render_rss(after[1], FEED)


def test_websub_links() -> None:
    hub = "https://hub.example/"
    feed = FEED.model_copy(update={"websub_hub": hub})
    entries = make_entries(7)
    main, archive = docs(entries, 5)
    root = check_atom(render_atom(main, feed), BASE + "feed.atom")
    assert links(root)["hub"] == [hub]
    assert links(root)["self"] == [BASE + "feed.atom"]
    rss = etree.fromstring(render_rss(main, feed))
    assert rss.find(f"channel/{ATOM}link[@rel='hub']").get("href") == hub
    assert json.loads(render_json(main, feed))["hubs"] == [{"type": "WebSub", "url": hub}]
    # Archives never change once complete: nothing to subscribe to.
    assert "hub" not in links(check_atom(render_atom(archive, feed), BASE + "archive/1.atom"))
    assert "hub" not in links(check_atom(render_atom(main, FEED), BASE + "feed.atom"))


def test_base_url_without_trailing_slash() -> None:
    feed = FEED.model_copy(update={"base_url": BASE.rstrip("/")})
    root = check_atom(render_atom(FeedDoc(make_entries(1), None, 0), feed), BASE + "feed.atom")
    assert root.find(f"{ATOM}id").text == "tag:news.example,2026:feed"


@pytest.mark.parametrize(
    "base", ["https://x.org/news", "https://x.org/news/", "https://x.org/news//"]
)
def test_site_url_joins_below_the_base(base: str) -> None:
    feed = FEED.model_copy(update={"base_url": base})
    assert site_url(feed) == "https://x.org/news/"
    assert site_url(feed, "feed.atom") == "https://x.org/news/feed.atom"
    assert site_url(feed, "/feed.atom") == "https://x.org/news/feed.atom"
    assert feed_url(feed, "json", 3) == "https://x.org/news/archive/3.json"
    assert article_url(feed, "a b") == "https://x.org/news/articles/a%20b.html"


@pytest.mark.parametrize("base", ["https://x.org", "https://x.org/"])
def test_site_url_at_the_root(base: str) -> None:
    feed = FEED.model_copy(update={"base_url": base})
    assert site_url(feed) == "https://x.org/"
    assert feed_url(feed, "atom") == "https://x.org/feed.atom"


@pytest.mark.parametrize("base", ["https://x.org/news", "https://x.org/news//"])
def test_every_link_to_an_article_is_the_same(base: str) -> None:
    feed = FEED.model_copy(update={"base_url": base})
    [entry] = make_entries(1)
    url = "https://x.org/news/" + article_path(entry.article.id)
    atom = feedparser.parse(render_atom(FeedDoc([entry], None, 0), feed))
    assert atom.feed.link == "https://x.org/news/"
    assert atom.entries[0].link == url
    [item] = json.loads(render_json(FeedDoc([entry], None, 0), feed))["items"]
    assert item["url"] == url
    assert f'<link rel="canonical" href="{url}">' in render_article(entry, feed).decode()
    assert f'href="{url}"' in render_latest([entry], url_for=ArticleLinks(feed), language="en")


def test_ids_do_not_depend_on_base_url() -> None:
    moved = FEED.model_copy(update={"base_url": "https://elsewhere.example/"})
    a = feedparser.parse(render_atom(FeedDoc(make_entries(3), None, 0), FEED))
    b = feedparser.parse(render_atom(FeedDoc(make_entries(3), None, 0), moved))
    assert a.feed.id == b.feed.id
    assert [e.id for e in a.entries] == [e.id for e in b.entries]
    assert a.entries[0].link != b.entries[0].link


# --- escaping and cleaning ----------------------------------------------------------------------

NASTY_HEADLINE = "<script>alert(1)</script> & <central banks>"
NASTY_BODY = '<a href="javascript:alert(1)">click</a> & more'


def nasty_entries() -> list[Entry]:
    return [Entry.of(make_article(1, headline=NASTY_HEADLINE, body=NASTY_BODY))]


def test_escaping_atom() -> None:
    data = render_atom(FeedDoc(nasty_entries(), None, 0), FEED)
    root = check_atom(data, BASE + "feed.atom")
    title = root.find(f"{ATOM}entry/{ATOM}title")
    assert title.get("type") == "html"
    # The element's HTML is the headline escaped once: it displays literally.
    assert title.text == html.escape(NASTY_HEADLINE, quote=False)
    assert b"<script>" not in data
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    entry = parsed.entries[0]
    assert "<script" not in entry.title
    assert html.unescape(entry.title) == NASTY_HEADLINE
    content = entry.content[0].value
    assert "<a " not in content
    assert html.escape(NASTY_BODY, quote=False) in content


def test_escaping_rss() -> None:
    data = render_rss(FeedDoc(nasty_entries(), None, 0), FEED)
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    entry = parsed.entries[0]
    assert entry.title_detail.type == "text/plain"
    assert entry.title == NASTY_HEADLINE
    assert "<a " not in entry.content[0].value
    assert html.escape(NASTY_BODY, quote=False) in entry.content[0].value


def test_escaping_json() -> None:
    item = json.loads(render_json(FeedDoc(nasty_entries(), None, 0), FEED))["items"][0]
    assert item["title"] == NASTY_HEADLINE  # JSON Feed titles are plain text
    assert "<a " not in item["content_html"]
    assert html.escape(NASTY_BODY, quote=False) in item["content_html"]


@settings(max_examples=60, deadline=None)
@given(headline=st.text(max_size=40), body=st.text(max_size=60))
def test_any_text_stays_text(headline: str, body: str) -> None:
    entries = [Entry.of(make_article(1, headline=headline, body=body))]
    expected = clean_text(headline) or "001_0000000000000001"  # no headline: the id
    root = etree.fromstring(render_atom(FeedDoc(entries, None, 0), FEED))
    SCHEMA.assertValid(root)
    title = root.find(f"{ATOM}entry/{ATOM}title")
    shown = title.text or ""
    assert (html.unescape(shown) if title.get("type") == "html" else shown) == expected
    rss = etree.fromstring(render_rss(FeedDoc(entries, None, 0), FEED))
    assert (rss.find("channel/item/title").text or "") == expected
    item = json.loads(render_json(FeedDoc(entries, None, 0), FEED))["items"][0]
    assert item["title"] == expected
    assert f"<p>{html.escape(clean_text(body), quote=False)}</p>" in item["content_html"]


def test_article_html_structure() -> None:
    body = article_html(make_article(3, body="A & B"))
    assert body == (
        "<section>\n<p>A &amp; B</p>\n</section>\n<section>\n<h2>A heading</h2>\n"
        '<p>The minister said:</p>\n<blockquote><p>"We will stay."</p></blockquote>\n'
        "<figure><figcaption>The minister. Screengrab by AFP video</figcaption></figure>\n"
        "</section>"
    )


def test_characters_xml_cannot_carry_are_stripped(caplog: pytest.LogCaptureFixture) -> None:
    bad = "Bad\x00 head\x0bline\ufffe\ud800 \U0001f600 tab\tok"
    article = make_article(9, headline=bad, body="body\x1f text")
    article = Article(
        id="999_control_chars",
        seq=article.seq,
        date=article.date,
        headline=article.headline,
        language=article.language,
        sections=article.sections,
    )
    entries = [Entry.of(article)]
    with caplog.at_level(logging.WARNING):
        atom = render_atom(FeedDoc(entries, None, 0), FEED)
        rss = render_rss(FeedDoc(entries, None, 0), FEED)
        feed_json = render_json(FeedDoc(entries, None, 0), FEED)
    warnings = [r for r in caplog.records if "999_control_chars" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    check_atom(atom, BASE + "feed.atom")
    assert feedparser.parse(atom).entries[0].title == "Bad headline \U0001f600 tab\tok"
    assert feedparser.parse(rss).bozo == 0
    item = json.loads(feed_json)["items"][0]
    assert item["title"] == "Bad headline \U0001f600 tab\tok"
    assert "body text" in item["content_html"]


def test_feed_settings_text_is_cleaned() -> None:
    feed = FEED.model_copy(update={"title": "Title\x07", "author_name": "<Desk>"})
    data = render_atom(FeedDoc(make_entries(1), None, 0), feed)
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    assert parsed.feed.title == "Title"


# --- RSS ----------------------------------------------------------------------------------------


def test_rss_document() -> None:
    entries = make_entries(7)
    main, archive = docs(entries, 5)
    data = render_rss(main, FEED)
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    assert parsed.version == "rss20"
    assert parsed.feed.title == "Example News"
    assert parsed.feed.link == BASE
    assert parsed.feed.language == "en"
    first = parsed.entries[0]
    assert first.id == "tag:news.example,2026:article:006_0000000000000006"
    assert first.guidislink is False
    assert first.link == BASE + "articles/006_0000000000000006.html"
    assert first.published == "Fri, 07 Jan 2022 00:00:00 +0000"
    assert first.summary == "Lead summary 6."
    assert first.content[0].value == article_html(entries[0].article)
    root = etree.fromstring(data)
    channel = root.find("channel")
    self_link = channel.find(f"{ATOM}link[@rel='self']")
    assert self_link.get("href") == BASE + "feed.rss"
    assert channel.find(f"{ATOM}link[@rel='prev-archive']").get("href") == BASE + "archive/1.rss"
    assert channel.find("lastBuildDate").text == "Fri, 07 Jan 2022 00:00:06 +0000"
    assert root.find("channel/item/guid").get("isPermaLink") == "false"

    archived = etree.fromstring(render_rss(archive, FEED)).find("channel")
    assert archived.find(f"{FH}archive") is not None
    assert archived.find(f"{ATOM}link[@rel='current']").get("href") == BASE + "feed.rss"
    assert archived.find(f"{ATOM}link[@rel='self']").get("href") == BASE + "archive/1.rss"


# --- JSON Feed ----------------------------------------------------------------------------------


def check_json_feed(data: bytes, feed_url: str) -> dict[str, object]:
    """The JSON Feed 1.1 rules: required and expected fields, types, dates."""
    obj = json.loads(data)
    assert obj["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(obj["title"], str) and obj["title"]
    assert isinstance(obj["items"], list)
    assert obj["home_page_url"] == BASE
    assert obj["feed_url"] == feed_url
    assert "author" not in obj and obj["authors"] == [{"name": "The Desk"}]
    ids = []
    for item in obj["items"]:
        assert isinstance(item["id"], str)
        assert "content_html" in item or "content_text" in item
        assert item["url"].startswith(BASE + "articles/")
        for key in ("date_published", "date_modified"):
            assert RFC3339.match(item[key]), item[key]
        assert item["authors"] == [{"name": "The Desk"}]
        ids.append(item["id"])
    assert len(ids) == len(set(ids))
    return obj  # type: ignore[no-any-return]


def test_json_feed() -> None:
    entries = make_entries(12)
    main, oldest, newest = docs(entries, 5)
    obj = check_json_feed(render_json(main, FEED), BASE + "feed.json")
    assert obj["next_url"] == BASE + "archive/2.json"
    assert obj["language"] == "en"
    items = obj["items"]
    assert isinstance(items, list)
    assert items[0] == {
        "id": "tag:news.example,2026:article:011_000000000000000b",
        "url": BASE + "articles/011_000000000000000b.html",
        "title": "Headline 11",
        "content_html": article_html(entries[0].article),
        "summary": "Lead summary 11.",
        "date_published": "2022-01-12T00:00:00Z",
        "date_modified": "2022-01-12T00:00:11Z",
        "authors": [{"name": "The Desk"}],
        "language": "en",
    }
    newer = check_json_feed(render_json(newest, FEED), BASE + "archive/2.json")
    assert newer["next_url"] == BASE + "archive/1.json"
    older = check_json_feed(render_json(oldest, FEED), BASE + "archive/1.json")
    assert "next_url" not in older
    assert "next_url" not in check_json_feed(
        render_json(FeedDoc(entries[:3], None, 0), FEED), BASE + "feed.json"
    )


# --- determinism --------------------------------------------------------------------------------


@pytest.mark.parametrize("render", [render_atom, render_rss, render_json])
def test_byte_identical(render: object) -> None:
    assert callable(render)
    first = [render(doc, FEED) for doc in docs(make_entries(12), 5)]
    again = [render(doc, FEED) for doc in docs(make_entries(12), 5)]
    assert first == again
    assert b"2026" not in b"".join(first).replace(b"news.example,2026", b"")  # no "now"


# --- golden files for the seed ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("render", "golden"),
    [(render_atom, "seed.atom"), (render_rss, "seed.rss"), (render_json, "seed.feed.json")],
)
def test_seed_golden(render: object, golden: str) -> None:
    assert callable(render)
    article = parse(str(SEED), SEED.read_bytes())
    data = render(FeedDoc([Entry.of(article)], None, 0), FEED)
    path = DATA / golden
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(data)
    assert data == path.read_bytes()
    if golden == "seed.atom":
        root = check_atom(data, BASE + "feed.atom")
        entry = root.find(f"{ATOM}entry")
        assert entry.get("{http://www.w3.org/XML/1998/namespace}lang") == "it"
        assert entry.find(f"{ATOM}published").text == "2022-01-01T00:00:00Z"  # month: the 1st
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0
        assert parsed.entries[0].id == "tag:news.example,2026:article:000_52a7b11c330feae9"
        assert parsed.entries[0].title == "È iniziato il ritiro dei militari russi dal Kazakhstan."
        content = parsed.entries[0].content[0].value
        assert "<h2>CSTO: nuovi rapporti di forza?</h2>" in content
        assert "<blockquote><p>" in content and "<figcaption>" in content
    elif golden == "seed.rss":
        assert feedparser.parse(data).bozo == 0
    else:
        check_json_feed(data, BASE + "feed.json")
