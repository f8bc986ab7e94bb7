"""Why an article matched: a short passage of its text with the matched words marked.

Made here, not by the engine, so both engines show the same snippet and it is cut from the
text people read (the engines hold only stems). The passage is the block that holds the
most of the query's words (the earliest on a tie), cut to about `SNIPPET_CHARS` around its
first match at word boundaries; without a match in the text (the headline matched) it is
the start of the lead. Marking compares stems in the article's language, so "riforme"
marks "riforma". The result is segments of plain text; `Snippet.html` escapes them.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from feedbot.articles.filters import fold
from feedbot.articles.model import Article
from feedbot.search.query import Query
from feedbot.search.words import ignored, stem

__all__ = ["SNIPPET_CHARS", "Snippet", "snippet"]

SNIPPET_CHARS = 180
_WORD = re.compile(r"[^\W_]+")
_BEFORE = 50  # characters of context kept before the first match
_fold = lru_cache(maxsize=1 << 16)(fold)  # a page folds the same words again and again


@dataclass(frozen=True, slots=True)
class Snippet:
    """Plain-text segments, each marked (a matched word) or not."""

    segments: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.segments)

    def html(self, tag: str = "mark") -> str:
        """The snippet as HTML: text escaped, matched words inside ``<tag>``."""
        return "".join(
            f"<{tag}>{html.escape(text)}</{tag}>" if marked else html.escape(text)
            for text, marked in self.segments
        )


def snippet(article: Article, query: Query, chars: int = SNIPPET_CHARS) -> Snippet:
    """The passage of ``article`` that best shows why it matched ``query``."""
    wanted = _wanted(query, article.language)
    blocks = [unicodedata.normalize("NFC", b.text) for s in article.sections for b in s.blocks]
    best, best_hits, best_spans = "", 0, []
    for text in blocks:
        spans = _matches(text, wanted, article.language)
        hits = len({_fold(text[a:b]) for a, b in spans})
        if hits > best_hits:
            best, best_hits, best_spans = text, hits, spans
    if not best_spans:
        lead = blocks[0] if blocks else article.headline
        return Snippet(((_cut(lead, 0, chars), False),)) if lead else Snippet(())
    return _window(best, best_spans, chars)


def _wanted(query: Query, language: str) -> frozenset[str]:
    words = sorted(query.words - ignored(language))
    return frozenset(words) | frozenset(stem(words, language))


def _matches(text: str, wanted: frozenset[str], language: str) -> list[tuple[int, int]]:
    folded = list(map(_fold, _WORD.findall(text)))
    stems = stem(folded, language)
    if wanted.isdisjoint(folded) and wanted.isdisjoint(stems):  # most blocks: no match
        return []
    found = zip(_WORD.finditer(text), folded, stems, strict=True)
    return [(m.start(), m.end()) for m, w, s in found if w in wanted or s in wanted]


def _cut(text: str, start: int, chars: int) -> str:
    """``text`` from ``start``, at most ``chars`` long, ending at a word boundary."""
    piece = text[start : start + chars]
    if start + chars < len(text):
        space = piece.rfind(" ")
        piece = (piece[:space] if space > chars // 2 else piece).rstrip() + "…"
    return ("…" + piece) if start else piece


def _window(text: str, spans: Sequence[tuple[int, int]], chars: int) -> Snippet:
    first = spans[0][0]
    start = 0 if first <= _BEFORE else text.find(" ", first - _BEFORE, first) + 1
    shown = _cut(text, start, chars)
    offset = start - (1 if start else 0)  # the leading "…" takes one character
    segments: list[tuple[str, bool]] = []
    at = 0
    for a, b in spans:
        a, b = a - offset, b - offset
        if a < at or b > len(shown) - (1 if shown.endswith("…") else 0):
            continue
        if a > at:
            segments.append((shown[at:a], False))
        segments.append((shown[a:b], True))
        at = b
    if at < len(shown):
        segments.append((shown[at:], False))
    return Snippet(tuple(segments))
