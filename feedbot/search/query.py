"""The query language people type, and nothing of the engines' own.

Words, ``"quoted phrases"`` and ``-excluded`` words or phrases; every other character is
text. Operators an engine would read — FTS5's ``NEAR(``, ``*``, ``^``, ``:``, column
filters, ``AND``/``OR``/``NOT``, tsquery's ``&``, ``|``, ``!``, ``<->`` — are cut away with
the punctuation or searched for as words ("AND" finds "and"), never interpreted; an
unbalanced quote is just a character. A query is found by every article that holds all its
included words and phrases and none of its excluded ones.

A word matches any form its stem covers: the query does not know the article's language,
so each word is stemmed in every language of the corpus (`Query.variants`); an article,
stemmed in its own language, matches when one of them does. A phrase is stemmed in one
language at a time, so all its words must agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from feedbot.articles.i18n import N_
from feedbot.errors import FeedbotError
from feedbot.search.words import MAX_WORD_BYTES, ignored, stem, tokens

__all__ = [
    "MAX_QUERY_CHARS",
    "MAX_QUERY_TERMS",
    "MAX_QUERY_WORDS",
    "Forms",
    "Part",
    "Query",
    "QueryError",
    "parse",
]

MAX_QUERY_CHARS = 256
MAX_QUERY_TERMS = 20
#: Words in all terms (a phrase's count one by one): more than 256 typed characters hold,
#: but one character may fold to several ("ﷺ" is four words, "a-b" two), and each word
#: reaches the engine once per language.
MAX_QUERY_WORDS = 64
_PART = re.compile(r'(-?)"([^"]*)"|(\S+)')

#: The stemmed forms of one term: a tuple of stems (one, or a phrase's) per language.
Forms = frozenset[tuple[str, ...]]


class QueryError(FeedbotError):
    """A query that cannot run, with the reason in plain words (shown to the reader, in
    the reader's language: `message`)."""

    def __init__(self, template: str, **params: object) -> None:
        super().__init__(template.format(**params))
        self.template = template
        self.params = params

    def message(self, translate: Callable[..., str]) -> str:
        """The reason in the language of ``translate`` (a `Translator`)."""
        return translate(self.template, **self.params)


@dataclass(frozen=True, slots=True)
class Part:
    """One term: a word or a phrase (folded words, before stemming), included or not."""

    words: tuple[str, ...]
    exclude: bool = False

    @property
    def text(self) -> str:
        body = " ".join(self.words)
        return ("-" if self.exclude else "") + (f'"{body}"' if len(self.words) > 1 else body)


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: its terms in the order typed, without duplicates."""

    parts: tuple[Part, ...]

    @property
    def text(self) -> str:
        """The query written canonically (``riforma "a b" -c``): one text per meaning,
        for cache keys, feed ids and links."""
        return " ".join(p.text for p in self.parts)

    @property
    def included(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if not p.exclude)

    @property
    def excluded(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.exclude)

    @property
    def words(self) -> frozenset[str]:
        """The folded words to mark in a snippet (those included)."""
        return frozenset(w for p in self.included for w in p.words)

    def variants(self, languages: Iterable[str]) -> list[tuple[Part, Forms | None]]:
        """Each term with the stemmed forms it matches, one per language (duplicates
        merged), or None for a term to ignore: one that is only stop words in one of the
        languages (`feedbot.search.words.ignored`), as the index holds none. A term no
        form of which can be indexed (a word longer than the index keeps) has no forms."""
        out: list[tuple[Part, Forms | None]] = []
        for part in self.parts:
            forms: set[tuple[str, ...]] = set()
            for language in sorted(set(languages)) or ["und"]:
                skip = ignored(language)
                words = [w for w in part.words if w not in skip]
                if not words:
                    break
                forms.add(tuple(stem(words, language)))
            else:
                fits = {f for f in forms if all(len(w.encode()) <= MAX_WORD_BYTES for w in f)}
                out.append((part, frozenset(fits)))
                continue
            out.append((part, None))
        return out


def parse(text: str) -> Query:
    """``text`` as a `Query`; `QueryError` past `MAX_QUERY_CHARS`, `MAX_QUERY_TERMS` or
    `MAX_QUERY_WORDS`.

    A query with no words (blank, or only punctuation) parses to no terms: the caller
    decides what an empty search shows."""
    text = text.strip()
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(N_("A search is at most {n} characters long."), n=MAX_QUERY_CHARS)
    parts: list[Part] = []
    for match in _PART.finditer(text):
        sign, phrase, bare = match.groups()
        if phrase is not None:
            exclude, raw = sign == "-", phrase
        else:
            exclude, raw = bare.startswith("-") and len(bare) > 1, bare
            raw = raw[1:] if exclude else raw
        words = tuple(tokens(raw))
        if words and (part := Part(words, exclude)) not in parts:
            parts.append(part)
    if len(parts) > MAX_QUERY_TERMS:
        raise QueryError(N_("A search has at most {n} words or phrases."), n=MAX_QUERY_TERMS)
    if sum(len(part.words) for part in parts) > MAX_QUERY_WORDS:
        raise QueryError(N_("A search has at most {n} words in all."), n=MAX_QUERY_WORDS)
    return Query(tuple(parts))
