"""HTML pages: escaping, language, autodiscovery, paging, dates, the seed's golden page."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

from feedbot.articles.model import Article, Block, BlockKind, Entry, Section
from feedbot.config import FeedSettings, Settings
from feedbot.publish.pages import (
    PER_PAGE,
    index_page_count,
    index_path,
    render_article,
    render_index,
    render_not_found,
)
from tests.conftest import SEED
from tests.sitekit import article, entries

FEED = FeedSettings(base_url="https://news.example/site/", title="News & Views")
DATA = Path(__file__).parents[1] / "data"
VOID = {"meta", "link", "br", "img", "hr", "input"}


class _Balance(HTMLParser):
    """Checks that every non-void element is closed in order."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def well_formed(page: bytes) -> str:
    text = page.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>\n")
    parser = _Balance()
    parser.feed(text)
    parser.close()
    assert parser.stack == []
    return text


def test_script_headline_and_body_are_text() -> None:
    evil = replace(
        article(1, headline="<script>alert(1)</script>"),
        sections=(
            Section(
                None,
                (Block(BlockKind.PARAGRAPH, '<a href="javascript:alert(2)">click</a>', 3),),
                "<b>bold?</b>",
            ),
        ),
    )
    entry = Entry.of(evil)
    for page in (render_article(entry, FEED), render_index([entry], 1, 1, FEED)):
        text = well_formed(page)
        assert "<script>" not in text and "<b>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "&lt;b&gt;bold?&lt;/b&gt;" in text
    text = render_article(entry, FEED).decode()
    assert '<a href="javascript' not in text
    assert "&lt;a href=" in text and "&gt;click&lt;/a&gt;" in text
    assert "News &amp; Views" in text


def test_article_page() -> None:
    entry = Entry.of(article(7, language="en"))
    text = well_formed(render_article(entry, FEED))
    assert '<html lang="en">' in text
    assert "<h1>Headline 7</h1>" in text
    summary_at = text.index('<p class="summary">Summary of article 7.</p>')
    assert summary_at < text.index("<p>Lead paragraph of article 7.</p>")  # summary first
    assert "<h2>A heading</h2>" in text
    assert "<blockquote><p>" in text and "Something &amp; more." in text
    assert "<figure><figcaption>A photo. Screengrab by AFP video</figcaption></figure>" in text
    assert '<a href="../index.html">' in text
    assert '<time datetime="2022-01-08T00:00:00Z">January 8, 2022</time>' in text
    assert "updated" not in text  # never changed
    assert (
        '<link rel="canonical" href="https://news.example/site/articles/007_0000000000000007.html">'
        in text
    )


def test_undetermined_language_falls_back_to_the_feeds() -> None:
    text = well_formed(render_article(Entry.of(article(7, language="und")), FEED))
    assert f'<html lang="{FEED.language}">' in text


def test_article_page_shows_update() -> None:
    entry = Entry(article(2), updated=datetime(2023, 5, 6, 7, 8, tzinfo=UTC))
    text = render_article(entry, FEED).decode()
    assert '<time datetime="2023-05-06T07:08:00Z">6 maggio 2023 07:08 UTC</time>' in text


def test_autodiscovery_on_every_page() -> None:
    pages = [
        render_index(entries(2), 1, 1, FEED),
        render_article(entries(1)[0], FEED),
        render_not_found(FEED),
    ]
    for page in pages:
        text = well_formed(page)
        for media, fmt in (
            ("application/atom+xml", "atom"),
            ("application/rss+xml", "rss"),
            ("application/feed+json", "json"),
        ):
            assert f'<link rel="alternate" type="{media}" title="News &amp; Views (' in text
            assert f'href="https://news.example/site/feed.{fmt}">' in text
        # no JavaScript anywhere: the only script element is JSON-LD data
        assert text.count("<script") == text.count('<script type="application/ld+json">')


def test_index_paging() -> None:
    total = 2 * PER_PAGE + 5
    newest_first = list(reversed(entries(total)))
    pages = index_page_count(total)
    assert pages == 3
    assert [index_path(p) for p in (1, 2, 3)] == ["index.html", "page/2.html", "page/3.html"]
    first = render_index(newest_first[:PER_PAGE], 1, pages, FEED).decode()
    assert first.count("<li ") == PER_PAGE
    assert first.index("Headline 44") < first.index("Headline 43")
    assert 'href="articles/044_000000000000002c.html"' in first
    assert '<a rel="next" href="page/2.html">' in first and 'rel="prev"' not in first
    middle = render_index(newest_first[PER_PAGE : 2 * PER_PAGE], 2, pages, FEED).decode()
    assert '<a rel="prev" href="../index.html">' in middle
    assert '<a rel="next" href="../page/3.html">' in middle
    assert 'href="../articles/' in middle
    last = render_index(newest_first[2 * PER_PAGE :], 3, pages, FEED).decode()
    assert last.count("<li ") == 5 and 'rel="next"' not in last
    assert "Summary of article 0." in last


def test_empty_index() -> None:
    assert index_page_count(0) == 1
    text = well_formed(render_index([], 1, 1, FEED))
    assert "No articles yet." in text and "<nav" not in text


def test_not_found_page() -> None:
    text = well_formed(render_not_found(FEED))
    assert "<h1>Not found</h1>" in text and 'href="/index.html"' in text


def test_seed_golden_page(seed_bytes: bytes) -> None:
    from feedbot.articles.parse import parse

    seed: Article = parse(str(SEED), seed_bytes)
    page = render_article(Entry.of(seed), Settings().feed)
    path = DATA / "seed.html"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_bytes(page)
    assert page == path.read_bytes()
    text = well_formed(page)
    assert '<html lang="it">' in text
    assert "<h1>È iniziato il ritiro dei militari russi dal Kazakhstan.</h1>" in text
    assert "<h2>CSTO: nuovi rapporti di forza?</h2>" in text
    assert '<time datetime="2022-01-01T00:00:00Z">gennaio 2022</time>' in text
