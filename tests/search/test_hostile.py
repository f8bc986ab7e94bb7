"""Hostile queries against the pure query language (issue 19, "Bad input"): any text
parses to a `Query` or a `QueryError` with a clear message, and the engine expression
built for it is bounded by the limits, whatever was typed."""

from __future__ import annotations

import re

from hypothesis import example, given

from feedbot.articles.i18n import translator
from feedbot.search.query import MAX_QUERY_CHARS, MAX_QUERY_TERMS, Query, QueryError, parse
from feedbot.search.words import MAX_WORD_BYTES, STEMMED
from feedbot.store.search import compile_fts5, compile_tsquery
from tests.searchkit import HOSTILE, sized

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


def _words(expression: str) -> list[str]:
    """The quoted words of an FTS5 or tsquery expression."""
    return re.findall(r"\"([^\"]*)\"|'([^']*)'", expression)


@HOSTILE
@given(sized())
@example("ﷺ" * MAX_QUERY_CHARS)  # one character, four words: the most words per character
@example("-".join(["ab"] * 85))
def test_the_engine_expression_is_bounded_by_the_limits(text: str) -> None:
    """(e) "Never slower than a plain query", structurally: what reaches an engine is at
    most `MAX_QUERY_TERMS` terms, each of at most one phrase per language, of words the
    index can hold; and it is built from letters, digits and the compiler's own syntax."""
    query = parsed(text)
    if isinstance(query, QueryError):
        return
    variants = query.variants(LANGUAGES)
    forms = [f for _, fs in variants if fs for f in fs]
    assert len(variants) <= MAX_QUERY_TERMS
    assert len(forms) <= MAX_QUERY_TERMS * len(LANGUAGES)
    for fts5, tsquery in [(compile_fts5(variants), compile_tsquery(variants))]:
        if fts5 is None or tsquery is None:
            assert fts5 == tsquery  # both engines skip the search
            continue
        words = [w for pair in _words(fts5) for w in pair if w]
        assert len(words) == sum(len(f) for f in forms if all(len(w) for w in f)) or words
        for word in " ".join(words).split():
            assert word.isalnum() and len(word.encode()) <= MAX_WORD_BYTES
        syntax = re.sub(r'"[^"]*"', "", fts5)
        assert set(syntax) <= set("() ANDORT"), syntax
        syntax = re.sub(r"'[^']*'", "", tsquery)
        assert set(syntax) <= set("()&|!<-> "), syntax
