"""Snippets: the passage that matched, words marked by stem, always escaped."""

from __future__ import annotations

from feedbot.articles.parse import parse
from feedbot.search.query import parse as query
from feedbot.search.snippet import snippet


def make(body: str, headline: str = "Titolo") -> object:
    return parse("001_x.txt", f"date 2026-03-01 {headline}\n\n{body}\n".encode())


def test_the_block_with_most_matched_words_is_shown_with_stems_marked() -> None:
    a = make("Un paragrafo qualunque.\n\nLa riforma delle pensioni passa in aula.")
    s = snippet(a, query("riforme pensioni"))  # type: ignore[arg-type]
    assert s.text == "La riforma delle pensioni passa in aula."
    assert s.html() == "La <mark>riforma</mark> delle <mark>pensioni</mark> passa in aula."


def test_markup_in_text_and_query_is_escaped() -> None:
    a = make('Il tag <b onclick="x">grassetto</b> & altro.')
    s = snippet(a, query('<b> grassetto "&"'))  # type: ignore[arg-type]
    assert "<b onclick" not in s.html()
    assert "&lt;<mark>b</mark> onclick=&quot;x&quot;&gt;<mark>grassetto</mark>" in s.html()


def test_long_text_is_cut_around_the_first_match_at_word_boundaries() -> None:
    filler = " ".join(["parola"] * 60)
    a = make(f"{filler} la riforma arriva e poi {filler}.")
    s = snippet(a, query("riforma"))  # type: ignore[arg-type]
    assert s.text.startswith("…") and s.text.endswith("…")
    assert len(s.text) <= 182
    assert ("riforma", True) in s.segments


def test_a_headline_only_match_shows_the_start_of_the_lead() -> None:
    a = make("Il primo paragrafo parla d'altro.", headline="Pensioni")
    s = snippet(a, query("pensioni"))  # type: ignore[arg-type]
    assert s.text == "Il primo paragrafo parla d'altro."
    assert not any(marked for _, marked in s.segments)
