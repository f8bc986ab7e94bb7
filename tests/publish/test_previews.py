"""What a link preview reads from an article page (Open Graph, Twitter card, canonical,
JSON-LD NewsArticle), checked by parsing the page; and pages that speak one language."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser

from feedbot.articles.model import Entry
from feedbot.articles.parse import parse
from feedbot.publish.pages import render_article, render_index
from tests.conftest import SEED
from tests.publish.test_feeds import BASE, FEED, make_article
from tests.sitekit import article as sitekit_article

NASTY = "Tag </script><script>alert(\"x\")</script> & 'quotes' <b>"


class Head(HTMLParser):
    """The meta tags, links, JSON-LD scripts and visible text of a page."""

    def __init__(self, page: bytes) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.json_ld: list[object] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._script: str | None = None
        self.feed(page.decode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in a or "name" in a):
            self.meta[a.get("property") or a["name"]] = a["content"]
        if tag == "link" and a.get("rel") == "canonical":
            self.links["canonical"] = a["href"]
        if tag == "script":
            self._script = a.get("type", "")
            self.scripts.append(self._script)

    def handle_data(self, data: str) -> None:
        if self._script == "application/ld+json":
            self.json_ld.append(json.loads(data))
        elif self._script is None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def test_an_article_page_previews_with_its_headline_and_lead() -> None:
    article = make_article(3, headline=NASTY, language="en")
    page = Head(render_article(Entry(article, article.date.value + timedelta(hours=5)), FEED))
    url = BASE + f"articles/{article.id}.html"
    assert page.links["canonical"] == url
    assert page.meta["og:title"] == NASTY == page.meta["twitter:title"]
    assert page.meta["og:description"] == "Lead summary 3." == page.meta["twitter:description"]
    assert page.meta["og:type"] == "article" and page.meta["og:url"] == url
    assert page.meta["og:site_name"] == FEED.title and page.meta["og:locale"] == "en_US"
    assert page.meta["article:published_time"] == "2022-01-04T00:00:00Z"
    assert page.meta["article:modified_time"] == "2022-01-04T05:00:00Z"
    assert page.meta["twitter:card"] == "summary"
    assert page.scripts == ["application/ld+json"]  # the nasty headline opened no script
    (ld,) = page.json_ld
    assert ld == {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": NASTY,
        "description": "Lead summary 3.",
        "datePublished": "2022-01-04T00:00:00Z",
        "dateModified": "2022-01-04T05:00:00Z",
        "inLanguage": "en",
        "url": url,
        "mainEntityOfPage": url,
        "author": {"@type": "Organization", "name": "The Desk"},
        "publisher": {"@type": "Organization", "name": "Example News"},
    }


def test_each_page_speaks_its_articles_language() -> None:
    it = parse(SEED.name, SEED.read_bytes())
    en = make_article(4, language="en")
    it_page = "".join(Head(render_article(Entry.of(it), FEED)).text)
    en_page = "".join(
        Head(render_article(Entry.of(en), FEED.model_copy(update={"language": "it"}))).text
    )
    assert "Pubblicato" in it_page and "gennaio 2022" in it_page and "Published" not in it_page
    assert "Tutti gli articoli" in it_page
    assert "Published" in en_page and "January" in en_page and "Pubblicato" not in en_page
    assert "All articles" in en_page and "gennaio" not in en_page


def test_the_index_speaks_the_sites_language_throughout() -> None:
    italian_site = FEED.model_copy(update={"language": "it"})
    entries = [Entry.of(make_article(i, language="en")) for i in (2, 1)]
    text = "".join(Head(render_index(entries, 1, 2, italian_site)).text)
    assert "gennaio 2022" in text and "January" not in text  # dates: the site's language
    assert "Meno recenti" in text and "Older" not in text  # and so are the labels


def test_the_lead_summary_is_shown_only_when_it_adds_to_the_first_paragraph() -> None:
    seed = parse(SEED.name, SEED.read_bytes())  # a one-paragraph lead: its summary repeats it
    assert seed.lead_summary
    assert 'class="summary"' not in render_article(Entry.of(seed), FEED).decode()
    condensed = make_article(5, body="A long first paragraph that the summary condenses.")
    page = render_article(Entry.of(condensed), FEED).decode()
    assert '<p class="summary">Lead summary 5.</p>' in page


class Outline(HTMLParser):
    """Every element of a page with its ancestors, attributes and text (void ones too)."""

    VOID = frozenset({"meta", "link", "br", "img", "hr", "input"})

    def __init__(self, page: bytes) -> None:
        super().__init__()
        self.elements: list[tuple[str, tuple[str, ...], dict[str, str], list[str]]] = []
        self._open: list[tuple[str, list[str]]] = []
        self.feed(page.decode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text: list[str] = []
        ancestors = tuple(t for t, _ in self._open)
        self.elements.append((tag, ancestors, {k: v or "" for k, v in attrs}, text))
        if tag not in self.VOID:
            self._open.append((tag, text))

    def handle_endtag(self, tag: str) -> None:
        assert self._open and self._open[-1][0] == tag
        self._open.pop()

    def handle_data(self, data: str) -> None:
        for _, text in self._open:
            text.append(data)

    def find(self, tag: str, inside: str = "") -> list[tuple[dict[str, str], str]]:
        """The ``tag`` elements (within an ``inside`` element): attributes and text."""
        return [
            (attrs, "".join(text).strip())
            for t, ancestors, attrs, text in self.elements
            if t == tag and (not inside or inside in ancestors)
        ]


def test_an_article_page_has_the_markup_instant_view_templates_read() -> None:
    """Telegram's Instant View templates pick the article apart by its semantic markup:
    the article, its headline, its times, figure captions, quotes and the author."""
    article = sitekit_article(7, language="en")
    updated = article.date.value + timedelta(days=2)
    page = Outline(render_article(Entry(article, updated), FEED))
    assert len(page.find("article")) == 1
    assert [text for _, text in page.find("h1", inside="article")] == ["Headline 7"]
    assert [text for _, text in page.find("h1")] == ["Headline 7"]  # the only h1
    times = page.find("time", inside="article")
    assert [a["datetime"] for a, _ in times] == ["2022-01-08T00:00:00Z", "2022-01-10T00:00:00Z"]
    assert [text for _, text in page.find("figcaption", inside="figure")] == [
        "A photo. Screengrab by AFP video"
    ]
    assert len(page.find("figure", inside="article")) == 1
    assert [text for _, text in page.find("blockquote", inside="article")] == [
        '"Something & more."'
    ]
    assert [text for _, text in page.find("address", inside="article")] == ["The Desk"]
    meta = {a.get("name") or a.get("property"): a.get("content") for a, _ in page.find("meta")}
    assert meta["author"] == meta["article:author"] == "The Desk"
    assert meta["og:site_name"] == FEED.title
    assert meta["article:published_time"] == "2022-01-08T00:00:00Z"
