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
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

from feedbot.articles.filters import fold
from feedbot.articles.model import Article

__all__ = [
    "FILLER",
    "MAX_OCCURRENCES",
    "MAX_POSITIONS",
    "MAX_WORD_BYTES",
    "STEMMED",
    "Document",
    "document",
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
_RAW = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    """The folded words of ``text``: runs of letters and digits ("e-mail" → e, mail).

    Cut first, then each word folded (cached: a text repeats its words), then cut again,
    as folding may leave other characters ("½" → "1⁄2")."""
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)  # "e" + U+0301 is one letter, "é"
    found: list[str] = []
    for word in _RAW.findall(text):
        found.extend(_folded(word))
    return found


@lru_cache(maxsize=65_536)
def _folded(word: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(fold(word)))


@lru_cache(maxsize=64)
def stemmer(language: str) -> Callable[[Sequence[str]], list[str]]:
    """Stems a list of folded words in ``language``; the identity without a stemmer."""
    algorithm = STEMMED.get(language)
    if algorithm is None:
        return list
    engine = Stemmer.Stemmer(algorithm, 10_000)  # the C stemmer keeps its own word cache
    return engine.stemWords  # type: ignore[no-any-return]


def stem(words: Sequence[str], language: str) -> list[str]:
    """``words`` reduced to their stems in ``language``."""
    return stemmer(language)(words)


@dataclass(frozen=True, slots=True)
class Document:
    """One article's search words, by field, in reading order."""

    headline: tuple[str, ...]
    headings: tuple[str, ...]
    text: tuple[str, ...]

    def columns(self) -> tuple[str, str, str]:
        """The three fields as space-separated words (an FTS5 row)."""
        return " ".join(self.headline), " ".join(self.headings), " ".join(self.text)

    def tsvector(self) -> str:
        """The fields as a ``tsvector`` literal: headline weight A, headings B, text D."""
        positions: dict[str, list[str]] = {}
        at = 1
        for words, weight in ((self.headline, "A"), (self.headings, "B"), (self.text, "")):
            for word in words:
                if word != FILLER:
                    positions.setdefault(word, []).append(f"{at}{weight}")
                at += 1
            at += FIELD_GAP
        return " ".join(f"'{word}':{','.join(at)}" for word, at in positions.items())


def document(article: Article) -> Document:
    """The words ``article`` is found by, capped as PostgreSQL caps them (see module doc)."""
    headings = [s.heading for s in article.sections if s.heading]
    blocks = [block.text for s in article.sections for block in s.blocks]
    room = MAX_POSITIONS
    counts: dict[str, int] = {}
    fields: list[tuple[str, ...]] = []
    for texts in ([article.headline], headings, blocks):
        words = _capped(_words(texts, article.language), room, counts)
        fields.append(words)
        room = max(0, room - len(words) - FIELD_GAP)
    return Document(*fields)


def _words(texts: Iterable[str], language: str) -> list[str]:
    folded = [w for text in texts for w in tokens(text)]
    return stem(folded, language)


def _capped(words: list[str], room: int, counts: dict[str, int]) -> tuple[str, ...]:
    """The first ``room`` words; `FILLER` for a word too long or seen too often."""
    words = words[:room]
    seen = Counter(words)
    if all(
        counts.get(w, 0) + n <= MAX_OCCURRENCES and len(w.encode()) <= MAX_WORD_BYTES
        for w, n in seen.items()
    ):  # the common case: one pass over the distinct words
        for w, n in seen.items():
            counts[w] = counts.get(w, 0) + n
        return tuple(words)
    kept: list[str] = []
    for word in words:
        n = counts.get(word, 0) + 1
        counts[word] = n
        fits = n <= MAX_OCCURRENCES and len(word.encode()) <= MAX_WORD_BYTES
        kept.append(word if fits else FILLER)
    return tuple(kept)
