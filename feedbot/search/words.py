"""The words an article is found by: folded like the filters, then stemmed.

Text is folded the way subscription filters fold it (`feedbot.articles.filters.fold`:
casefold, NFKD, combining marks dropped — "Città" → "citta"), cut into runs of letters
and digits, and each word is reduced to its stem by the Snowball stemmer of the
article's language ("riforme" → "riform", "reforms" → "reform"; PyStemmer, the C build of
Snowball). A language without a stemmer keeps the folded words.

An article is three fields that weigh differently: the headline, the section headings
and the text. PostgreSQL's ``tsvector`` has limits that FTS5 does not (positions up to
16,383, 256 positions a word, about 1 MB in all), so this module applies them for both
engines alike: the first `MAX_POSITIONS` words are indexed; an occurrence of a word past
its `MAX_OCCURRENCES`th, and a word longer than `MAX_WORD_BYTES`, keep their place as
`FILLER` — a private-use character that FTS5 indexes as a word and no query can type
(queries keep only letters and digits) — so a phrase never joins the words around it.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, islice

import Stemmer

from feedbot.articles.filters import fold
from feedbot.articles.model import Article
from feedbot.articles.summarize import stop_words

__all__ = [
    "FIELD_MARKS",
    "FILLER",
    "MAX_MARKED",
    "MAX_OCCURRENCES",
    "MAX_POSITIONS",
    "MAX_WORD_BYTES",
    "STEMMED",
    "Document",
    "IndexRow",
    "Parts",
    "document",
    "document_of",
    "ignored",
    "parts",
    "stem",
    "stemmer",
    "tokens",
]

#: PostgreSQL's limits for a ``tsvector``: positions 1..16383, 256 positions a word.
MAX_POSITIONS = 16_383
MAX_OCCURRENCES = 256
#: Longer words (base64, URLs run together) are not indexed: 16,383 of them fit in 1 MB.
MAX_WORD_BYTES = 48
FILLER = "\ue000"
#: Which articles hold a query's term in their headline, or in a heading, is asked by
#: marked words: each headline word is written once more as MARK+word, each heading word
#: likewise with its own mark (private-use characters no query can type). FTS5 indexes
#: them at the end of their column and finds "in the headline" in the marked word's own
#: short list of articles; PostgreSQL keeps them in a small ``tsvector`` of their own,
#: at the words' positions, which it reads only for the candidates of a search. The
#: first `MAX_MARKED` words of the two fields are marked (the rest stay within the 1 MB
#: a vector holds).
FIELD_MARKS = ("\ue001", "\ue002")
MAX_MARKED = 2_000
#: Words remembered with their stem, per language (about 1.5 MB each when full).
STEM_CACHE = 10_000
#: Position gap between fields, so that a phrase never spans the headline and the text.
FIELD_GAP = 2

#: ISO 639-1 code → Snowball algorithm, for the languages `summarize.detect_language` knows.
STEMMED: dict[str, str] = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}

_TOKEN = re.compile(r"[^\W_]+")
_NOT_ASCII = re.compile(r"[^\x00-\x7f]")
#: ASCII: letters and digits lowered, every other character a space.
_ASCII_WORDS = str.maketrans({c: c.lower() if c.isalnum() else " " for c in map(chr, range(128))})
#: The same for text already lowered: only the separators change.
_ASCII_SEPARATORS = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def tokens(text: str) -> list[str]:
    """The folded words of ``text``: runs of letters and digits ("e-mail" → e, mail).

    The same as ``_TOKEN.findall(fold(text))``, faster: folding works character by
    character, so each distinct non-ASCII character is replaced by its folded form (with
    spaces for what is not a letter or digit, cached: a language repeats its accented
    letters); ASCII text, which most text is once folded, is cut by one table and a split."""
    if text.isascii():
        return text.translate(_ASCII_WORDS).split()
    text = text.casefold()
    for char in set(_NOT_ASCII.findall(text)):
        text = text.replace(char, _fold_char(char))
    if text.isascii():
        return text.translate(_ASCII_SEPARATORS).split()
    return _TOKEN.findall(text)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    return "".join(c if c.isalnum() else " " for c in fold(char))


@lru_cache(maxsize=64)
def stemmer(language: str) -> Callable[[Sequence[str]], list[str]]:
    """Stems a list of folded words in ``language``; the identity without a stemmer.
    Uncached: `stem` remembers the words it has seen."""
    algorithm = STEMMED.get(language)
    if algorithm is None:
        return list
    engine = Stemmer.Stemmer(algorithm, 0)  # no cache of its own: `_Stems` keeps one
    return engine.stemWords  # type: ignore[no-any-return]


class _Stems:
    """The stems of one language's words, from a bounded cache that also marks the stop
    words: one dictionary look-up a word replaces the stop-word test and the stemmer's C
    call (which costs more than the look-up once the common words are known). Filled
    under a lock (the scan and the searches share it); read without one."""

    def __init__(self, language: str) -> None:
        self._stem = stemmer(language)
        stops = sorted(ignored(language))
        self._stop_stems = dict(zip(stops, self._stem(stops), strict=True))
        self._known: dict[str, str] = dict.fromkeys(stops, "")  # a stop word: ""
        self._lock = threading.Lock()

    def indexed(self, words: list[str]) -> list[str]:
        """The stems of ``words`` that are not stop words."""
        known = self._known
        try:
            return list(filter(None, map(known.__getitem__, words)))
        except KeyError:
            with self._lock:
                self._learn(words)
                return list(filter(None, map(known.__getitem__, words)))

    def stems(self, words: Sequence[str]) -> list[str]:
        """The stem of each word, stop words too."""
        with self._lock:
            self._learn(words)
            return [self._known[w] or self._stop_stems.get(w, "") for w in words]

    def _learn(self, words: Iterable[str]) -> None:
        known = self._known
        new = set(words).difference(known)
        if len(known) + len(new) > STEM_CACHE:  # full: start again from the stop words
            known.clear()
            known.update(dict.fromkeys(self._stop_stems, ""))
            new = set(words).difference(known)
        ordered = list(new)
        known.update(zip(ordered, self._stem(ordered), strict=True))


@lru_cache(maxsize=64)
def _stems(language: str) -> _Stems:
    return _Stems(language)


@lru_cache(maxsize=64)
def ignored(language: str) -> frozenset[str]:
    """The folded stop words of ``language`` ("il", "di", "the", single letters): too
    common to find anything by, so neither indexed nor searched for."""
    return frozenset(w for word in stop_words(language) for w in tokens(word))


def stem(words: Sequence[str], language: str) -> list[str]:
    """``words`` reduced to their stems in ``language``."""
    return _stems(language).stems(words)


@dataclass(frozen=True, slots=True)
class Document:
    """One article's search words, by field, in reading order."""

    headline: tuple[str, ...]
    headings: tuple[str, ...]
    text: tuple[str, ...]

    def columns(self) -> tuple[str, str, str]:
        """The three fields as space-separated words (an FTS5 row), the headline's and the
        headings' followed by their marked copies (`FIELD_MARKS`)."""
        headline, headings = self._marked()
        return (
            " ".join((*self.headline, *headline)),
            " ".join((*self.headings, *headings)),
            " ".join(self.text),
        )

    def _marked(self) -> tuple[list[str], list[str]]:
        """The marked copies of the headline's and the headings' words (`MAX_MARKED`)."""
        room = max(0, MAX_MARKED - len(self.headline))
        headline, headings = self.headline[:MAX_MARKED], self.headings[:room]
        return [FIELD_MARKS[0] + w for w in headline], [FIELD_MARKS[1] + w for w in headings]

    def tsvector(self) -> str:
        """The fields as a ``tsvector`` literal: headline weight A, headings B, text D."""
        positions: defaultdict[str, list[str]] = defaultdict(list)
        at = 1
        for words, labels in zip(self._fields(), _labels(), strict=True):
            for word, label in zip(words, islice(labels, at, None), strict=False):  # no copy
                positions[word].append(label)
            at += len(words) + FIELD_GAP
        positions.pop(FILLER, None)
        return _literal(positions)

    def marks(self) -> str:
        """The marked copies of the headline's and the headings' words (`FIELD_MARKS`) as
        a ``tsvector`` literal, each at its word's position in `tsvector`: PostgreSQL
        keeps them apart from the words (see `feedbot.store.search`)."""
        positions: defaultdict[str, list[str]] = defaultdict(list)
        at = 1
        for words, marked, labels in zip(self._fields(), self._marked(), _labels(), strict=False):
            for word, label in zip(marked, islice(labels, at, None), strict=False):
                positions[word].append(label)
            at += len(words) + FIELD_GAP
        for word in (mark + FILLER for mark in FIELD_MARKS):
            positions.pop(word, None)
        return _literal(positions)

    def row(self, dialect: str) -> IndexRow:
        """The words as the text of an index row: `columns` for SQLite's FTS5, else
        (`tsvector`, `marks`) for PostgreSQL."""
        return self.columns() if dialect == "sqlite" else (self.tsvector(), self.marks())

    def _fields(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        return self.headline, self.headings, self.text


def _literal(positions: dict[str, list[str]]) -> str:
    return " ".join(f"'{word}':{','.join(at)}" for word, at in positions.items())


@lru_cache(maxsize=1)
def _labels() -> tuple[list[str], list[str], list[str]]:
    """Position labels "12A", "12B", "12", made once, when PostgreSQL first needs them
    (about 3 MB: a daemon on SQLite never makes them)."""
    a, b, d = ([f"{i}{w}" for i in range(MAX_POSITIONS + 1)] for w in ("A", "B", ""))
    return a, b, d


#: What an article's words are made of: its language, headline, headings and the text of
#: its blocks. Plain strings, so that another process can make the words (`document_of`).
Parts = tuple[str, str, tuple[str, ...], tuple[str, ...]]
#: An article's index row as text (`Document.row`).
IndexRow = tuple[str, ...]


def parts(article: Article) -> Parts:
    """The parts of ``article`` its words are made of."""
    headings = tuple(s.heading for s in article.sections if s.heading)
    blocks = tuple(block.text for s in article.sections for block in s.blocks)
    return article.language, article.headline, headings, blocks


def document(article: Article) -> Document:
    """The words ``article`` is found by, capped as PostgreSQL caps them (see module doc)."""
    return document_of(parts(article))


def document_of(parts: Parts) -> Document:
    """The words of an article's `Parts` (see `document`)."""
    language, headline, headings, blocks = parts
    fields = [_words(texts, language) for texts in ((headline,), headings, blocks)]
    total = sum(map(len, fields))
    seen = set(chain.from_iterable(fields))
    if (
        total + 2 * FIELD_GAP <= MAX_POSITIONS
        # a word seen k times leaves at most total - k + 1 distinct ones
        and (
            total - len(seen) < MAX_OCCURRENCES
            or max(Counter(chain.from_iterable(fields)).values()) <= MAX_OCCURRENCES
        )
        and _short(seen)
    ):  # the common case: nothing to cap, checked in C
        return Document(*map(tuple, fields))
    room = MAX_POSITIONS
    counts: dict[str, int] = {}
    capped: list[tuple[str, ...]] = []
    for words in fields:
        capped.append(_capped(words[:room], counts))
        room = max(0, room - len(capped[-1]) - FIELD_GAP)
    return Document(*capped)


def _short(words: set[str]) -> bool:
    """Whether no word is longer than `MAX_WORD_BYTES` in UTF-8."""
    longest = max(map(len, words), default=0)
    if longest * 4 <= MAX_WORD_BYTES:  # 4 bytes a character at most
        return True
    if longest > MAX_WORD_BYTES:
        return False
    return " ".join(words).isascii() or max(map(len, map(str.encode, words))) <= MAX_WORD_BYTES


def _words(texts: Sequence[str], language: str) -> list[str]:
    return _stems(language).indexed(tokens("\n".join(texts)))


def _capped(words: list[str], counts: dict[str, int]) -> tuple[str, ...]:
    """``words`` with `FILLER` for a word too long or seen too often."""
    kept: list[str] = []
    for word in words:
        n = counts.get(word, 0) + 1
        counts[word] = n
        fits = n <= MAX_OCCURRENCES and len(word.encode()) <= MAX_WORD_BYTES
        kept.append(word if fits else FILLER)
    return tuple(kept)
