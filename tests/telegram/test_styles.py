"""Post styles and digests (pure): full is today's post byte for byte, compact fits one
message with an expandable blockquote Telegram accepts, digests split between articles."""

from __future__ import annotations

import pytest

from feedbot.articles.model import Entry
from feedbot.telegram.chat.settings_menu import parse_choice
from feedbot.telegram.render.messages import render_post
from feedbot.telegram.render.parse_html import parse_telegram_html
from feedbot.telegram.render.styles import render_digest, render_styled
from tests.sitekit import article

URL = "https://news.example.org/articles/x.html"


def test_full_is_todays_post() -> None:
    entry = Entry.of(article(3))
    for language in ("en", "it"):
        assert render_styled(entry, url=URL, language=language, style="full") == render_post(
            entry, url=URL, language=language
        )


def test_compact_has_one_expandable_blockquote() -> None:
    [text] = render_styled(Entry.of(article(3)), url=URL, language="en", style="compact")
    visible, entities = parse_telegram_html(text)
    kinds = [e.type for e in entities]
    assert kinds.count("expandable_blockquote") == 1 and "blockquote" not in kinds
    assert visible.startswith("Headline 3\n")
    assert "Summary of article 3." in visible and "A heading\nSection summary." in visible


def test_compact_drops_sections_then_falls_back_to_full_when_too_long() -> None:
    entry = Entry.of(article(3, headline="word " * 30))
    [short] = render_styled(entry, url=URL, language="en", style="compact", limit=220)
    assert "blockquote" not in short and "Read the article" in short
    pieces = render_styled(entry, url=URL, language="en", style="compact", limit=100)
    assert pieces == render_post(entry, url=URL, language="en", limit=100)


def test_headlines_is_the_headline_as_a_link() -> None:
    entry = Entry.of(article(3, headline="A <b> & c"))
    assert render_styled(entry, url=URL, language="en", style="headlines") == [
        f'<a href="{URL}">A &lt;b&gt; &amp; c</a>'
    ]


def test_a_long_digest_splits_between_articles() -> None:
    entries = [Entry.of(article(i)) for i in range(40)]
    pieces = render_digest(entries, url_for=lambda i: f"https://x/{i}", language="en", limit=600)
    assert len(pieces) > 3
    for piece in pieces:
        visible, _ = parse_telegram_html(piece)
        assert len(visible) <= 600
        body = visible.removeprefix("Digest: 40 new articles\n\n")
        assert body.startswith("Headline ")  # each piece starts at an article
    text = "\n".join(parse_telegram_html(p)[0] for p in pieces)
    order = [int(line.split()[1]) for line in text.splitlines() if line.startswith("Headline ")]
    assert order == list(range(39, -1, -1))  # newest first, none lost


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        ("s:0:1:style:compact", True),
        ("s:12:3:tz:1", True),
        ("s:0:1:style:fancy", False),
        ("s:-1:1:style:full", False),
        ("s:0:x:style:full", False),
        ("s:0:1:tz:9", False),
        ("x:0:1:style:full", False),
        ("s:0:1:style", False),
        ("s:0:1:style:full:" + "x" * 60, False),
    ],
)
def test_callback_data_is_checked(data: str, ok: bool) -> None:
    assert (parse_choice(data) is not None) is ok
