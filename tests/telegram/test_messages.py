"""The Telegram post and replies: golden seed posts, escaping, dates, the splitter's properties.

After an intended change, regenerate the golden posts with
``UPDATE_GOLDEN=1 pytest tests/telegram/test_messages.py``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedbot.articles.model import Article, ArticleDate, DatePrecision, Entry, Section
from feedbot.articles.parse import parse
from feedbot.config import FeedSettings
from feedbot.telegram.render.links import ArticleLinks
from feedbot.telegram.render.messages import (
    MAX_MESSAGE,
    command_descriptions,
    render_feed_links,
    render_help,
    render_latest,
    render_post,
    render_stats,
    utf16_len,
)
from feedbot.telegram.render.parse_html import parse_telegram_html
from tests.conftest import ROOT, SEED

GOLDEN = ROOT / "tests" / "data" / "telegram"
URL = "https://example.org/articles/a.html"
JAN = ArticleDate(datetime(2022, 1, 1, tzinfo=UTC), DatePrecision.MONTH)
FEED = FeedSettings(base_url="https://e.org/")


def article(
    headline: str = "Headline",
    sections: tuple[Section, ...] = (),
    date: ArticleDate = JAN,
    article_id: str = "001_abc",
) -> Article:
    return Article(article_id, 1, date, headline, "it", sections)


def visible(html: str) -> str:
    return parse_telegram_html(html)[0]


@pytest.mark.parametrize("language", ["en", "it"])
def test_seed_post_golden(language: str) -> None:
    seed = parse(SEED.name, SEED.read_bytes())
    [post] = render_post(
        Entry.of(seed), url=f"https://example.org/articles/{seed.id}.html", language=language
    )
    golden = GOLDEN / f"seed_post.{language}.html"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(post + "\n", encoding="utf-8")
    assert post + "\n" == golden.read_text(encoding="utf-8")
    text, entities = parse_telegram_html(post)
    assert text.startswith(seed.headline + "\n")
    bold = [text[e.offset : e.offset + e.length] for e in entities if e.type == "bold"]
    assert bold == [seed.headline] + [s.heading for s in seed.sections if s.heading]
    for section in seed.sections:
        assert section.summary in text


def test_layout_and_link() -> None:
    a = article(
        "Title",
        (Section(None, (), "Lead one. Lead two."), Section("Part", (), "Part summary.")),
    )
    [en] = render_post(a, url=URL, language="en")
    assert en == (
        "<b>Title</b>\nJanuary 2022\n\nLead one. Lead two.\n\n<b>Part</b>\nPart summary.\n\n"
        f'<a href="{URL}">Read the article</a>'
    )
    [it] = render_post(a, url=URL, language="it")
    assert it.endswith(f'<a href="{URL}">Leggi l\'articolo</a>')
    assert "\ngennaio 2022\n" in it


def test_everything_is_escaped() -> None:
    a = article(
        "<script>alert('x')</script> & \"co\"",
        (Section(None, (), "Tom & Jerry <3 > 2."), Section("A <b>bold</b> claim", (), "x &amp; y")),
    )
    [post] = render_post(a, url='https://example.org/a?x=1&y="2"', language="en")
    assert "<script>" not in post
    assert "&lt;script&gt;alert('x')&lt;/script&gt; &amp; &quot;co&quot;" in post
    assert 'href="https://example.org/a?x=1&amp;y=&quot;2&quot;"' in post
    text, entities = parse_telegram_html(post)
    assert "Tom & Jerry <3 > 2." in text
    assert "A <b>bold</b> claim" in text
    assert "x &amp; y" in text
    assert entities[-1].url == 'https://example.org/a?x=1&y="2"'


@pytest.mark.parametrize(
    ("date", "language", "expected"),
    [
        (JAN, "en", "January 2022"),
        (JAN, "it", "gennaio 2022"),
        (
            ArticleDate(datetime(2022, 1, 14, tzinfo=UTC), DatePrecision.DAY),
            "en",
            "January 14, 2022",
        ),
        (
            ArticleDate(datetime(2022, 1, 14, tzinfo=UTC), DatePrecision.DAY),
            "it",
            "14 gennaio 2022",
        ),
        (
            ArticleDate(datetime(2022, 3, 2, 8, 30, tzinfo=UTC), DatePrecision.INSTANT),
            "it",
            "2 marzo 2022",
        ),
    ],
)
def test_dates(date: ArticleDate, language: str, expected: str) -> None:
    a = article(date=date)
    assert visible(render_post(a, url=URL, language=language)[0]).split("\n")[1] == expected


def test_long_post_splits_at_section_boundaries() -> None:
    body = "Word " * 250 + "end."  # ~1250 units per section
    sections = tuple(Section(f"Heading {i}", (), body) for i in range(8))
    posts = render_post(
        article("Big", (Section(None, (), "Lead."), *sections)), url=URL, language="en"
    )
    assert len(posts) == 3
    for post in posts:
        assert utf16_len(visible(post)) <= MAX_MESSAGE
    for post in posts[1:]:
        assert post.startswith("<b>Heading ")
    assert posts[-1].endswith("Read the article</a>")


def test_long_section_splits_at_sentences() -> None:
    sentence = "This sentence is about fifty characters long, or so. "
    sections = (Section("Huge", (), sentence * 200),)
    posts = render_post(article("Big", sections), url=URL, language="en")
    assert len(posts) == 3
    for post in posts[:-1]:
        assert visible(post).endswith("or so.")
        assert utf16_len(visible(post)) <= MAX_MESSAGE


def test_a_word_longer_than_a_message_is_cut() -> None:
    posts = render_post(article("x", (Section(None, (), "😀" * 5000),)), url=URL, language="en")
    assert all(utf16_len(visible(p)) <= MAX_MESSAGE for p in posts)
    assert "".join(visible(p) for p in posts).count("😀") == 5000


# --- property tests of the splitter ---------------------------------------------------------

alphabet = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.sampled_from(list("abc <>&\"'.!?;: \n\t😀👍🏽𝄞€&amp;")),
)
text = st.text(alphabet, max_size=60)
words = st.lists(
    st.one_of(
        st.text(alphabet.filter(lambda c: not c.isspace()), min_size=1, max_size=12),
        st.text(st.sampled_from("x😀"), min_size=40, max_size=120),  # long words
        st.sampled_from([".", "end.", "Yes!", "<b>", "&amp;", "&"]),
    ),
    max_size=200,
).map(" ".join)
sections = st.lists(
    st.builds(Section, st.one_of(st.none(), text), st.just(()), st.one_of(text, words)),
    max_size=12,
)
articles = st.builds(article, headline=st.one_of(text, words), sections=sections.map(tuple))


def check_split(a: Article, limit: int) -> None:
    [whole] = render_post(a, url=URL + "?q=<&>", language="en", limit=10**9)
    full = visible(whole)
    posts = render_post(a, url=URL + "?q=<&>", language="en", limit=limit)
    texts = [visible(p) for p in posts]  # every piece parses as Telegram HTML
    for t in texts:
        assert 0 < utf16_len(t) <= limit
        assert t.strip()
    pieces_words = [w for t in texts for w in t.split()]
    if all(utf16_len(w) <= limit for w in full.split()):
        assert pieces_words == full.split()  # nothing lost, duplicated or cut
    else:
        assert "".join(pieces_words) == "".join(full.split())
    if len(posts) == 1:
        assert posts[0] == whole


@settings(max_examples=300, deadline=None)
@given(articles, st.integers(min_value=25, max_value=400))
def test_split_small_limits(a: Article, limit: int) -> None:
    check_split(a, limit)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(words, st.just("Sentence one. " * 300)), min_size=1, max_size=6))
def test_split_real_limit(bodies: list[str]) -> None:
    a = article("Head", tuple(Section(f"S{i}", (), b * 3) for i, b in enumerate(bodies)))
    check_split(a, MAX_MESSAGE)


# --- replies --------------------------------------------------------------------------------


def test_latest() -> None:
    long = article("A very long headline & more " * 40)
    entries = [Entry.of(long)] * 12
    html = render_latest(
        entries,
        url_for=ArticleLinks(FeedSettings(base_url="https://example.org/site")),
        language="it",
    )
    text = visible(html)
    assert text.startswith("Gli ultimi 10 articoli:\n1. A very long headline & more")
    assert text.count("— gennaio 2022") == 10
    assert utf16_len(text) <= MAX_MESSAGE
    assert 'href="https://example.org/site/articles/001_abc.html"' in html
    one = render_latest([Entry.of(article("<x>"))], url_for=ArticleLinks(FEED), language="en")
    assert visible(one) == "The latest article:\n1. <x> — January 2022"
    assert render_latest([], url_for=ArticleLinks(FEED), language="it") == "Ancora nessun articolo."


def test_other_replies_parse_and_translate() -> None:
    help_it = render_help("it", title="Notizie <&>", admin=True)
    assert visible(help_it).startswith("Notizie <&> pubblica")
    assert "/stats — " in help_it and "/stats" not in render_help("en", title="t")
    feeds = render_feed_links(
        "en", title="t", atom="https://e.org/feed.atom?a&b", rss="r", json="j"
    )
    assert "Atom: https://e.org/feed.atom?a&b" in visible(feeds)
    stats = visible(render_stats("it", subscribers=1, articles=5, pending=0, sent=3, failed=1))
    assert (
        stats
        == "Statistiche\n1 chat iscritta\n5 articoli\nConsegne: 0 in attesa, 3 inviate, 1 fallite"
    )
    assert [c for c, _ in command_descriptions("it")] == [
        "start",
        "subscribe",
        "unsubscribe",
        "stop",
        "latest",
        "search",
        "feed",
        "settings",
        "digest",
        "timezone",
        "quiet",
        "filter",
        "style",
        "help",
    ]
    assert dict(command_descriptions("it", admin=True))["stats"].startswith("Iscritti")
    assert all(1 <= len(d) <= 256 for _, d in command_descriptions("en", admin=True))
