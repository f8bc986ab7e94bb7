"""A query as each engine's match expression: FTS5's ``MATCH`` or a ``tsquery``.

Both are built from the stemmed forms `feedbot.search.query.Query.variants` gives, never
from the text typed, so nothing of the engines' own syntax reaches them: a word is quoted
as a string (FTS5) or a lexeme (``tsquery``), a phrase is its words in a row, a term's
forms are alternatives, the terms all required and the excluded ones none. The marked
words of `feedbot.search.words.FIELD_MARKS` ask which articles hold a term in their
headline or a heading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from feedbot.search.query import Forms, Part
from feedbot.search.words import FIELD_MARKS

__all__ = ["compile_fts5", "compile_tsquery", "field_params"]


def compile_fts5(
    parts: Sequence[tuple[Part, Forms | None]], within: Sequence[str] = ()
) -> str | None:
    """The FTS5 MATCH expression, or None when nothing can match; with ``within``, only
    articles that hold one of those words (marks) match. They join the words searched
    for, ahead of the exclusions: FTS5 reads each term's entries until a row matches,
    and only a term that is read can end the reading where its entries end."""
    return _compile(parts, "AND", "OR", " NOT ", _fts5_phrase, within)


def compile_tsquery(parts: Sequence[tuple[Part, Forms | None]]) -> str | None:
    """The ``tsquery`` text, or None when nothing can match."""
    return _compile(parts, "&", "|", " & !", _tsquery_phrase)


def _fts5_phrase(form: tuple[str, ...]) -> str:
    return '"' + " ".join(form) + '"'


def _tsquery_phrase(form: tuple[str, ...]) -> str:
    return " <-> ".join(f"'{w}'" for w in form)


def _either(
    forms: Iterable[tuple[str, ...]], or_: str, phrase: Callable[[tuple[str, ...]], str]
) -> str:
    return "(" + f" {or_} ".join(phrase(f) for f in sorted(forms)) + ")"


def _compile(
    parts: Sequence[tuple[Part, Forms | None]],
    and_: str,
    or_: str,
    but_not: str,
    phrase: Callable[[tuple[str, ...]], str],
    within: Sequence[str] = (),
) -> str | None:
    included = [forms for part, forms in parts if not part.exclude and forms is not None]
    if not included or not all(included):
        return None  # no term to look for, or one no article can hold
    terms = [_either(f, or_, phrase) for f in included]
    if within:
        terms.append(_either([(mark,) for mark in within], or_, phrase))
    found = "(" + f" {and_} ".join(terms) + ")"
    excluded = [_either(forms, or_, phrase) for part, forms in parts if part.exclude and forms]
    if excluded:
        found += but_not + "(" + f" {or_} ".join(excluded) + ")"
    return found


def _in_fields(within: str | None, forms: Forms, postgres: bool) -> tuple[str, str]:
    """Match expressions for the articles that hold a term (``forms``) in their headline,
    and for those that hold it in a section heading: of the marked words, on SQLite
    within the query's match (``within``)."""
    and_, or_, phrase = ("&", "|", _tsquery_phrase) if postgres else ("AND", "OR", _fts5_phrase)
    headline, heading = (
        _either([tuple(m + w for w in f) for f in forms], or_, phrase) for m in FIELD_MARKS
    )
    if within is None:
        return headline, heading
    return f"({within}) {and_} {headline}", f"({within}) {and_} {heading}"


def field_params(terms: Sequence[Forms], within: str | None, postgres: bool) -> dict[str, str]:
    """The match expressions `_in_fields` makes, each term's two as ``m{2i}``, ``m{2i+1}``."""
    params = {}
    for i, forms in enumerate(terms):
        for j, expression in enumerate(_in_fields(within, forms, postgres)):
            params[f"m{2 * i + j}"] = expression
    return params
