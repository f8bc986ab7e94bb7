"""Keyword filters: parsing and refusals, whole-word and accent-insensitive matching,
phrases, and work linear in the article whatever the terms (adversarial 1 MB input)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from feedbot.articles import filters
from feedbot.articles.filters import (
    MAX_TERMS,
    ArticleWords,
    FilterError,
    article_words,
    matches,
    parse_terms,
    words,
)
from feedbot.articles.model import Article, ArticleDate, Block, BlockKind, DatePrecision, Section


def text(s: str) -> ArticleWords:
    seq = tuple(words(s))
    return ArticleWords(seq, frozenset(seq))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("+rome", ["+rome"]),
        ("Rome -Milan", ["+rome", "-milan"]),
        ('+"Città Eterna" -"Serie A"', ['+"citta eterna"', '-"serie a"']),
        ("+rome +ROME", ["+rome"]),
        ('-"  spaced   out "', ['-"spaced out"']),
    ],
)
def test_parse_terms(given: str, expected: list[str]) -> None:
    assert parse_terms(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("+" + "a" * 51, "at most 50 characters"),
        ('+"open', "not closed"),
        ("+!!!", "at least one letter"),
        (" ".join(f"+w{i}" for i in range(MAX_TERMS + 1)), f"at most {MAX_TERMS} terms"),
    ],
)
def test_bad_terms_are_refused_with_a_reason(given: str, reason: str) -> None:
    with pytest.raises(FilterError, match=reason):
        parse_terms(given)


def test_terms_add_up_to_the_limit() -> None:
    existing = parse_terms(" ".join(f"+w{i}" for i in range(MAX_TERMS)))
    assert parse_terms("+w3", existing) == existing  # a duplicate adds nothing
    with pytest.raises(FilterError):
        parse_terms("+one_more", existing)


@pytest.mark.parametrize(
    ("terms", "article", "taken"),
    [
        (["+citta"], "Una città sul mare", True),  # accents folded
        (["+città"], "UNA CITTA SUL MARE", True),
        (["+rome"], "Romeo and Juliet", False),  # whole words only
        (["+rome", "+paris"], "News from Paris", True),  # any include
        (["+rome", "-football"], "Rome football derby", False),  # an exclude wins
        (["-football"], "Opera in Rome", True),  # only excludes: everything else passes
        (['+"eternal city"'], "Rome, the eternal city.", True),
        (['+"eternal city"'], "The city is eternal", False),  # phrase order matters
        (['+"a a b"'], "a a a b", True),  # KMP restarts correctly
        (["+straße"], "STRASSE closed", True),  # casefold
        (["+ﬁle"], "file", True),  # NFKD ligature
        (["+roma"], "𝐑𝐨𝐦𝐚 ᴿᴼᴹᴬ", True),  # capitals a decomposition brings back, folded too
    ],
)
def test_matches(terms: list[str], article: str, taken: bool) -> None:
    assert matches(parse_terms(" ".join(terms)), text(article)) is taken


def make(headline: str, lead: str, heading: str, body: str) -> Article:
    sections = (
        Section(None, (Block(BlockKind.PARAGRAPH, lead, 3),), lead),
        Section(heading, (Block(BlockKind.PARAGRAPH, body, 5),), "summary"),
    )
    day = ArticleDate(datetime(2024, 1, 1, tzinfo=UTC), DatePrecision.DAY)
    return Article("001_a", 1, day, headline, "en", sections)


def test_headline_headings_and_text_are_searched() -> None:
    article = make("Headline about Naples", "Lead text here.", "About Turin", "Body on Milan.")
    found = article_words(article)
    for word in ("naples", "turin", "milan", "lead"):
        assert matches([f"+{word}"], found), word


def _count_steps(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the comparisons the phrase search makes (the work, not the time)."""
    steps = [0]

    class Counting(str):
        __slots__ = ()

        def __ne__(self, other: object) -> bool:
            steps[0] += 1
            return str.__ne__(self, other)

        def __eq__(self, other: object) -> bool:
            steps[0] += 1
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    original = filters._contains
    monkeypatch.setattr(
        filters,
        "_contains",
        lambda hay, needle: original([Counting(w) for w in hay], needle),
    )
    return steps


ADVERSARIAL = " ".join('-"' + "a " * (24 - i) + 'b"' for i in range(20))


def adversarial(size: int) -> ArticleWords:
    """``size`` bytes of "a a a …" after a "b": every phrase "a … a b" almost matches
    everywhere — the classic quadratic case for a naive scan."""
    return article_words(make("b", "a " * (size // 2), "x", "y"))


@pytest.mark.parametrize("size", [10_000, 100_000])
def test_adversarial_phrases_cost_linear_work(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    """Twenty phrases of up to 49 characters, the most the limits allow: the comparisons
    stay within a small constant times the article's words."""
    steps = _count_steps(monkeypatch)
    terms = parse_terms(ADVERSARIAL)
    assert len(terms) == MAX_TERMS
    found = adversarial(size)
    assert matches(terms, found)  # no exclude matched: "b" never follows an "a"
    n = len(found.sequence)
    assert n >= size // 2
    assert 2 * n <= steps[0] <= 2 * 2 * len(terms) * n  # at most 2 comparisons a word a term


def test_a_1mb_adversarial_article_takes_linear_time() -> None:
    """1 MB against 100 KB: ten times the text, about ten times the time (the bound is
    generous: the machine is shared; a quadratic scan would take a hundred times)."""
    terms = parse_terms(ADVERSARIAL)
    small, large = adversarial(100_000), adversarial(1_000_000)

    def best(text: ArticleWords) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            assert matches(terms, text)
            times.append(time.perf_counter() - start)
        return min(times)

    assert best(large) < 40 * best(small)
