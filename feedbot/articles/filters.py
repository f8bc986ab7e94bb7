"""Keyword and language filters for subscriptions — pure, and linear in the article.

A filter is a list of terms: ``+word`` or a bare word includes (any include must
match, when there is one), ``-word`` excludes (none may match); a quoted phrase
(``"a phrase"``, ``-"a phrase"``) matches a run of whole words. No regular
expressions: text and terms are folded the same way (Unicode casefold, NFKD, combining
marks dropped, so "citta" matches "città") and cut into words. A single word is a
set lookup; a phrase is found with Knuth–Morris–Pratt over the article's words. With
at most `MAX_TERMS` terms of at most `MAX_TERM_LENGTH` characters, the work is a
constant times the article's length, whatever the terms are.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from feedbot.articles.model import Article

__all__ = [
    "MAX_TERMS",
    "MAX_TERM_LENGTH",
    "ArticleWords",
    "FilterError",
    "Term",
    "article_words",
    "fold",
    "matches",
    "parse_terms",
    "words",
]

MAX_TERMS = 20
MAX_TERM_LENGTH = 50
_WORD = re.compile(r"\w+")
_TERM = re.compile(r'([+-]?)(?:"([^"]*)"|(\S+))')


class FilterError(ValueError):
    """A filter the chat cannot have, with the reason in plain words."""


def fold(text: str) -> str:
    """Casefold, decompose (NFKD) and drop the combining marks: "Città" → "citta".

    Casefolded again after decomposing (Unicode's compatibility caseless match), as a
    decomposition may bring capitals back: "𝐑𝐨𝐦𝐚" (mathematical bold, which has no case)
    → "Roma" → "roma", "ᴿ" → "R" → "r"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    again = decomposed.casefold()
    if again != decomposed:
        decomposed = unicodedata.normalize("NFKD", again)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded whole words of ``text``."""
    return _WORD.findall(fold(text))


@dataclass(frozen=True, slots=True)
class Term:
    """One filter term: include or exclude, and its folded words."""

    include: bool
    words: tuple[str, ...]

    @property
    def text(self) -> str:
        """How the term is stored and shown: ``+word``, ``-"a phrase"``."""
        body = " ".join(self.words)
        return ("+" if self.include else "-") + (f'"{body}"' if len(self.words) > 1 else body)


def parse_terms(text: str, existing: Sequence[str] = ()) -> list[str]:
    """``existing`` stored terms plus those in ``text`` (``+word -word "a phrase"``),
    without duplicates; `FilterError` when a term is empty, too long, or too many."""
    if text.count('"') % 2:
        raise FilterError("a quoted phrase is not closed")
    found = list(existing)
    for match in _TERM.finditer(text):
        sign, phrase, word = match.groups()
        raw = phrase if phrase is not None else word
        if len(raw) > MAX_TERM_LENGTH:
            raise FilterError(f"a term is at most {MAX_TERM_LENGTH} characters long")
        term_words = tuple(words(raw))
        if not term_words:
            raise FilterError("a term needs at least one letter or digit")
        term = Term(sign != "-", term_words).text
        if term not in found:
            found.append(term)
    if len(found) > MAX_TERMS:
        raise FilterError(f"a chat can have at most {MAX_TERMS} terms")
    return found


@lru_cache(maxsize=4096)
def _term(stored: str) -> Term:
    return Term(not stored.startswith("-"), tuple(words(stored)))


@dataclass(frozen=True, slots=True)
class ArticleWords:
    """An article's folded words, computed once and matched against many filters."""

    sequence: tuple[str, ...]
    unique: frozenset[str]


def article_words(article: Article) -> ArticleWords:
    """The words of the headline, the section headings and the text."""
    parts: list[str] = [article.headline]
    for section in article.sections:
        if section.heading:
            parts.append(section.heading)
        parts.extend(block.text for block in section.blocks)
    sequence = tuple(w for part in parts for w in words(part))
    return ArticleWords(sequence, frozenset(sequence))


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    """Whether ``needle`` occurs as a run in ``haystack`` (KMP: linear in both)."""
    fail = [0] * len(needle)
    k = 0
    for i in range(1, len(needle)):
        while k and needle[i] != needle[k]:
            k = fail[k - 1]
        if needle[i] == needle[k]:
            k += 1
        fail[i] = k
    k = 0
    for word in haystack:
        while k and word != needle[k]:
            k = fail[k - 1]
        if word == needle[k]:
            k += 1
            if k == len(needle):
                return True
    return False


def _found(term: Term, text: ArticleWords) -> bool:
    if any(w not in text.unique for w in term.words):
        return False  # every word of a phrase must occur somewhere first
    return len(term.words) == 1 or _contains(text.sequence, term.words)


def matches(terms: Iterable[str], text: ArticleWords) -> bool:
    """Whether an article with words ``text`` passes the stored ``terms``."""
    parsed = [_term(t) for t in terms]
    if any(_found(t, text) for t in parsed if not t.include):
        return False
    includes = [t for t in parsed if t.include]
    return not includes or any(_found(t, text) for t in includes)
