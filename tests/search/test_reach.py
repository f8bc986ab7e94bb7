"""How far back a search reads: a query's effort (its words, a phrase's one by one, the
excluded ones too) and the share of the archive that buys (`feedbot.search.reach`)."""

from __future__ import annotations

import pytest

from feedbot.search.query import parse
from feedbot.search.reach import PLAIN_WORDS, WORK_FLOOR, effort, share

LANGUAGES = ["en", "it", "und"]


@pytest.mark.parametrize(
    ("typed", "words", "weighed"),
    [
        ("riforma", 1, 1),
        ("riforma pensioni governo", 3, 3),
        ("riforma -pensioni", 2, 3),
        ('"riforma pensioni" governo', 3, 7),
        # "delle" is an Italian stop word, but the phrase's English form keeps it
        ('"riforma delle pensioni" governo', 4, 10),
        ('-"riforma pensioni"', 2, 12),
        ("il la riforma", 1, 1),  # terms made only of stop words read nothing
        ("a" * 60 + " riforma", 1, 1),  # a word longer than the index keeps: no entries
    ],
)
def test_effort_counts_the_words_read(typed: str, words: int, weighed: int) -> None:
    parts = parse(typed).variants(LANGUAGES)
    assert effort(parts) == words
    assert effort(parts, phrase_word=3, excluded=2) == weighed


def test_plain_searches_and_small_archives_read_everything() -> None:
    assert share(PLAIN_WORDS, 10**9) == 1.0
    assert share(20, WORK_FLOOR // 21) == 1.0  # a small archive: every search reads it all
    assert share(64, 100) == 1.0


def test_a_costly_search_reads_what_three_words_read_of_the_whole() -> None:
    articles = 1_000_000
    assert share(20, articles) == pytest.approx(PLAIN_WORDS / 21)  # the marks: one more
    assert share(4, articles) == pytest.approx(0.6)
    # past the floor the share falls smoothly: no archive size makes it jump
    edge = WORK_FLOOR // 21
    assert share(20, edge + 1) == pytest.approx(1.0, rel=1e-4)
    assert share(20, 2 * edge) == pytest.approx(0.5, rel=1e-4)
    # the entries read (the marks' included) are never more than three words' or the floor
    for words in range(PLAIN_WORDS + 1, 65):
        for n in (10, 20_000, 100_000, 10**7):
            assert (words + 1) * n * share(words, n) <= max(PLAIN_WORDS * n, WORK_FLOOR) + 1e-6
