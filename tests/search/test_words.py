"""The words an article is found by: folding, stemming, fields, PostgreSQL's limits."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedbot.articles.filters import fold
from feedbot.articles.parse import parse
from feedbot.search import words as words_module
from feedbot.search.words import (
    FIELD_MARKS,
    FILLER,
    MAX_MARKED,
    MAX_OCCURRENCES,
    MAX_POSITIONS,
    MAX_WORD_BYTES,
    document,
    ignored,
    stem,
    stemmer,
    tokens,
)


def test_tokens_fold_like_the_filters_and_keep_only_letters_and_digits() -> None:
    assert tokens("Città: l'ÉLITE, e-mail_2026 NEAR(x*) ^a") == [
        "citta",
        "l",
        "elite",
        "e",
        "mail",
        "2026",
        "near",
        "x",
        "a",
    ]


def test_capitals_that_decomposition_brings_back_are_folded_too() -> None:
    # "𝐑" has no case: casefold keeps it, NFKD makes it "R"; the index must see "r", as
    # FTS5 and PostgreSQL would otherwise disagree (tests/store/test_search_hostile.py)
    assert tokens("𝐑𝐨𝐦𝐚 ᴿᴼᴹᴬ ϒ ϲ") == ["roma", "roma", "υ", "σ"]
    assert all(w == w.casefold() for w in tokens("".join(map(chr, range(0x1D400, 0x1D800)))))


@settings(max_examples=300)
@given(st.text())
@example("Città ﬁne ½ Straße ㎁ e\u0301 _x_ ＿y İ ΣΑΣ")  # ligature, fraction, ß, nA, marks
def test_tokens_are_the_filters_words_without_underscores(text: str) -> None:
    assert tokens(text) == re.findall(r"[^\W_]+", fold(text))


def test_word_forms_share_a_stem_in_italian_and_english() -> None:
    assert stem(["riforme", "riforma"], "it") == ["riform", "riform"]
    assert stem(["reforms", "reform"], "en") == ["reform", "reform"]
    assert stem(["riforme"], "xx") == ["riforme"]  # no stemmer: the folded word


def test_document_fields_and_weights() -> None:
    a = parse(
        "001_x.txt",
        b"date 2026-03-01 Le riforme delle pensioni\n\nPrimo paragrafo sulla riforma.\n\n"
        b"Cosa cambia\n\nIl testo della citt\xc3\xa0.\n",
    )
    doc = document(a)
    assert doc.headline == ("riform", "pension")  # "le", "delle": stop words, not indexed
    assert "camb" in doc.headings
    assert "citt" in doc.text and "riform" in doc.text
    vector = doc.tsvector()
    assert "'riform':1A," in vector  # headline weight A, then the text's plain positions
    assert ":" in vector and "B" in vector
    assert not any(mark in vector for mark in FIELD_MARKS)  # the marked words: apart
    # each headline and heading word once more behind its field's mark, same positions
    marks = doc.marks()
    assert f"'{FIELD_MARKS[0]}riform':1A" in marks and f"'{FIELD_MARKS[0]}pension':2A" in marks
    assert f"'{FIELD_MARKS[1]}camb':" in marks and f"'{FIELD_MARKS[1]}citt'" not in marks
    heading = next(item for item in vector.split() if item.startswith("'camb':"))
    assert f"'{FIELD_MARKS[1]}{heading[1:]}" in marks.split()


def test_marked_words_are_capped_so_a_vector_stays_within_postgresqls_megabyte() -> None:
    sections = [f"Parte w{i:040d} x{i:040d}\n\nTesto." for i in range(1_500)]
    body = "\n\n".join(sections)  # 3,000 long heading words
    doc = document(parse("001_x.txt", f"date 2026-03-01 Titolo\n\n{body}\n".encode()))
    assert len(doc.headings) > MAX_MARKED
    marks = [item.rsplit(":", 1)[0].strip("'") for item in doc.marks().split()]
    assert 0 < sum(1 for w in marks if w.startswith(FIELD_MARKS[1])) <= MAX_MARKED
    assert sum(len(w.encode()) for w in marks) < 1 << 20


def test_limits_of_postgresql_apply_to_both_engines() -> None:
    long_word = "x" * (MAX_WORD_BYTES + 1)
    body = " ".join(["parola"] * (MAX_OCCURRENCES + 5) + [long_word] + ["fine"] * 20_000)
    a = parse("001_x.txt", f"date 2026-03-01 Titolo\n\n{body}.\n".encode())
    doc = document(a)
    assert len(doc.headline) + len(doc.headings) + len(doc.text) <= MAX_POSITIONS
    words = doc.text
    (parola,) = stem(["parola"], a.language)
    assert words.count(parola) == MAX_OCCURRENCES
    assert words[MAX_OCCURRENCES] == FILLER  # the 257th keeps its place, unsearchable
    assert long_word not in words
    positions = [
        int(p.rstrip("ABD"))
        for item in doc.tsvector().split()
        for p in item.rsplit(":", 1)[1].split(",")
    ]
    assert max(positions) <= MAX_POSITIONS
    assert FILLER not in doc.tsvector() and FILLER not in doc.marks()


def test_stems_come_from_a_bounded_cache_and_equal_the_stemmers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(words_module, "STEM_CACHE", len(ignored("it")) + 50)
    stems = words_module._Stems("it")  # a fresh cache, as small as the limit allows
    batches = [[f"parola{i}{j}" for j in range(30)] + ["il", "riforme"] for i in range(10)]
    for words in batches:
        assert stems.indexed(words) == stemmer("it")([*words[:-2], "riforme"])  # "il": stop
        assert stems.stems(words) == stemmer("it")(words)  # stop words keep their stem
        assert len(stems._known) <= len(ignored("it")) + 50 + 32
