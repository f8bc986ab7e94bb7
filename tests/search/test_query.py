"""The query language: words, phrases, exclusions; the engines' syntax is only text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedbot.search.query import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    MAX_QUERY_WORDS,
    Part,
    QueryError,
    parse,
)


@pytest.mark.parametrize(
    ("typed", "parts"),
    [
        ("pensioni", [Part(("pensioni",))]),
        ('"riforma delle pensioni"', [Part(("riforma", "delle", "pensioni"))]),
        ("roma -lazio", [Part(("roma",)), Part(("lazio",), exclude=True)]),
        ('-"a b" c', [Part(("a", "b"), exclude=True), Part(("c",))]),
        # a token joined by punctuation is a phrase of its words, as in the filters ("e-mail")
        (
            "NEAR(a b) c* ^d e:f",
            [Part(("near", "a")), Part(("b",)), Part(("c",)), Part(("d",)), Part(("e", "f"))],
        ),
        ('"unclosed words', [Part(("unclosed",)), Part(("words",))]),
        ("a AND b OR NOT c", [Part((w,)) for w in ("a", "and", "b", "or", "not", "c")]),
        ("x & y | !z <-> w", [Part((w,)) for w in ("x", "y", "z", "w")]),
        ("Città città CITTA", [Part(("citta",))]),
        ("- -- *** ()", []),
        ("--x", [Part(("x",), exclude=True)]),
    ],
)
def test_parse(typed: str, parts: list[Part]) -> None:
    assert list(parse(typed).parts) == parts


def test_limits_have_clear_messages() -> None:
    parse("a" * MAX_QUERY_CHARS)
    with pytest.raises(QueryError, match="at most 256 characters"):
        parse("a" * (MAX_QUERY_CHARS + 1))
    parse(" ".join(f"w{i}" for i in range(MAX_QUERY_TERMS)))
    with pytest.raises(QueryError, match="at most 20 words or phrases"):
        parse(" ".join(f"w{i}" for i in range(MAX_QUERY_TERMS + 1)))
    parse('"' + " ".join(f"w{i}" for i in range(MAX_QUERY_WORDS)) + '"')
    with pytest.raises(QueryError, match="at most 64 words in all"):
        parse(" ".join(f"ﷺ{i}" for i in range(17)))  # 17 terms of 4 words: 68
    with pytest.raises(QueryError, match="at most 64 words in all"):
        parse("-".join(["ab"] * (MAX_QUERY_WORDS + 1)))


def test_variants_stem_each_word_in_every_language_and_phrases_in_one() -> None:
    query = parse('riforme "reforms passed"')
    (_, forms), (_, phrase_forms) = query.variants(["it", "en"])
    assert ("riform",) in forms
    assert ("reform", "pass") in phrase_forms  # English, word by word
    assert all(len(f) == 2 for f in phrase_forms)


@given(st.text(max_size=MAX_QUERY_CHARS))
def test_any_text_parses_to_words_of_letters_and_digits(text: str) -> None:
    try:
        query = parse(text)
    except QueryError:
        return
    for part in query.parts:
        assert part.words and all(w.isalnum() for w in part.words)


def test_canonical_text_is_one_per_meaning() -> None:
    assert parse('  Città   "La  Riforma" -ROMA citta ').text == 'citta "la riforma" -roma'
    assert parse(parse('a -"b c" d-e').text) == parse('a -"b c" d-e')


def test_stop_words_are_ignored_unless_the_term_has_other_words() -> None:
    (_, il_forms), (_, forms), (_, the_forms) = parse('il "derby di roma" the').variants(
        ["it", "en"]
    )
    assert il_forms is None and the_forms is None  # Italian and English stop words
    assert ("derby", "rom") in forms  # Italian: "di" left out inside the phrase
    assert ("derbi", "di", "roma") in forms  # English keeps "di"
