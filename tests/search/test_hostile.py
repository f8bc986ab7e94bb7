"""Hostile queries against the pure query language (issue 19, "Bad input"): any text
parses to a `Query` or a `QueryError` with a clear message, and the engine expression
built for it is bounded by the limits, whatever was typed."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from hypothesis import example, given

from feedbot.articles.i18n import translator
from feedbot.search.query import (
    MAX_QUERY_CHARS,
    MAX_QUERY_TERMS,
    MAX_QUERY_WORDS,
    Query,
    QueryError,
    parse,
)
from feedbot.search.snippet import snippet
from feedbot.search.words import MAX_WORD_BYTES, STEMMED
from feedbot.store.matching import compile_fts5, compile_tsquery
from tests.searchkit import CORPUS, HOSTILE, sized

#: Every language a corpus may have, and "und": the most variants a term can have.
LANGUAGES = [*STEMMED, "und"]
_MESSAGE = re.compile(r"^A search (is|has) at most \d+ [a-z ]+\.$")


def parsed(text: str) -> Query | QueryError:
    try:
        return parse(text)
    except QueryError as e:
        return e


@HOSTILE
@given(sized())
@example("a" * (MAX_QUERY_CHARS + 1))
@example(" ".join(["riforma"] * 10_000))
@example("\x00" * 1_000_000)
def test_any_text_is_a_query_or_a_clear_message(text: str) -> None:
    result = parsed(text)  # (a) nothing else raises
    if isinstance(result, QueryError):
        assert _MESSAGE.match(str(result)), str(result)
        for language in ("it", "en"):
            message = result.message(translator(language))
            assert message and "{" not in message
        return
    assert len(result.parts) <= MAX_QUERY_TERMS
    for part in result.parts:
        assert part.words and all(w.isalnum() for w in part.words)


@HOSTILE
@given(sized())
@example("ﷺ" * MAX_QUERY_CHARS)  # one character, three words: the most words a character makes
@example("-".join(["ab"] * 85))
@example(" ".join(f"-w{i}" for i in range(MAX_QUERY_TERMS)))
def test_the_engine_expression_is_bounded_by_the_limits(text: str) -> None:
    """(e) "Never slower than a plain query", structurally: the statement is fixed (see
    tests/store/test_search_hostile.py) and its match text holds at most
    `MAX_QUERY_TERMS` terms of at most one phrase per language, of at most
    `MAX_QUERY_WORDS` words in all, each a word the index can hold; the rest is the
    compiler's own syntax, whatever was typed."""
    query = parsed(text)
    if isinstance(query, QueryError):
        return
    assert sum(len(p.words) for p in query.parts) <= MAX_QUERY_WORDS
    variants = query.variants(LANGUAGES)
    assert len(variants) <= MAX_QUERY_TERMS
    fts5, tsquery = compile_fts5(variants), compile_tsquery(variants)
    if not query.included or any(forms == frozenset() for p, forms in variants if not p.exclude):
        assert fts5 is tsquery is None  # nothing can match: neither engine is asked
        return
    if fts5 is None or tsquery is None:  # every included term is only stop words
        assert fts5 is tsquery is None
        assert all(forms is None for p, forms in variants if not p.exclude)
        return
    sent = [f for _, forms in variants if forms for f in forms]
    assert len(sent) <= MAX_QUERY_TERMS * len(LANGUAGES)
    assert sum(map(len, sent)) <= MAX_QUERY_WORDS * len(LANGUAGES)
    fts5_words = re.findall(r'"([^"]*)"', fts5)
    tsquery_words = re.findall(r"'([^']*)'", tsquery)
    assert sorted(w for phrase in fts5_words for w in phrase.split()) == sorted(tsquery_words)
    assert len(tsquery_words) == sum(map(len, sent))
    for word in tsquery_words:
        assert word.isalnum() and len(word.encode()) <= MAX_WORD_BYTES
    assert set(re.sub(r'"[^"]*"', "", fts5)) <= set("() ANDORT")
    assert set(re.sub(r"'[^']*'", "", tsquery)) <= set("()&|!<-> ")


class _Marked(HTMLParser):
    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


@HOSTILE
@given(sized())
@example("𝐑𝐨𝐦𝐚 <mark>")
def test_snippets_mark_words_and_carry_no_markup_of_the_query(text: str) -> None:
    """A snippet for any query is the article's text with ``<mark>`` tags and nothing
    else: what was typed never becomes markup."""
    query = parsed(text)
    if isinstance(query, QueryError):
        return
    for article in CORPUS:
        cut = snippet(article, query)
        markup = _Marked(cut.html())
        assert set(markup.tags) <= {"mark"}
        assert markup.text == cut.text
        assert all(part for part, marked in cut.segments if marked)
