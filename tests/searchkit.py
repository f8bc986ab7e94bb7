"""Hostile search queries for property tests (issue 19, "Bad input"): strategies that mix
corpus words with markup, control characters, engine syntax and Unicode oddities, and a
small corpus that holds the words and oddities they aim at.

Hypothesis runs derandomized here (`HOSTILE`): the same examples on every run, so a CI
failure is one a developer sees too; a failing example is kept as an ``@example``."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from feedbot.articles.model import Article
from feedbot.articles.parse import parse

__all__ = ["CORPUS", "HOSTILE", "NOW", "PIECES", "SOURCES", "huge", "queries", "sized"]

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)

#: The settings of every hostile-query property: derandomized, no deadline (a loaded
#: 2-core machine), few examples (each may cost a search on two engines).
HOSTILE = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

WORDS = [
    # it and en, with accents and forms that stem alike
    "riforma",
    "riforme",
    "pensioni",
    "città",
    "CITTÀ",
    "citta",
    "Roma",
    "eterna",
    "perché",
    "È",
    "governo",
    "derby",
    "Lazio",
    "reforms",
    "reform",
    "running",
    "runs",
    "naïve",
    "café",
    "the",
    "di",
    "2026",
    # the oddities the corpus holds (see `CORPUS`)
    "𝐑𝐨𝐦𝐚",  # mathematical bold: folds to "roma"
    "ᴿᴼᴹᴬ",  # modifier letters: the same
    "ᦵᦶᦷ",  # New Tai Lue letters (once vowel signs)
    "ᏍᎦᏚ",  # Cherokee
    "ﷺ",  # one character, four Arabic words
    "שלום",
    "مرحبا",
    "𠀀𠀁",
    "ǅemal",
]
MARKUP = ["<b>", "</b>", "&amp;", "&lt;", "<script>", "</script>", '"><img src=x>', "<!--"]
CONTROL = [chr(c) for c in (*range(0x20), 0x7F)]
QUOTES = ['"', '""', '"""', "'", "«", "»", "“", "”", "„"]
FTS5 = ["NEAR(", ")", "(", "*", "^", ":", "AND", "OR", "NOT", "headline:", "{a b}:", "+", ","]
TSQUERY = ["&", "|", "!", "<->", "<2>", ":*", "'", ":A", "\\", "!!"]
MARKS = ["\u0301", "\u0308", "\u0327", "\u20dd", "e\u0301", "\u0e34"]
RTL = ["\u200f", "\u202e", "\u202b", "\u2067", "\u061c"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad"]
ASTRAL = ["😀", "👩\u200d👩\u200d👧", "\U0001e900", "\U000e0041", "\U0010fffd", "𝔸"]
SPACES = [" ", "\t", "\n", "\u3000", "\u00a0", "\u2028"]
PIECES = [
    *WORDS,
    *MARKUP,
    *CONTROL,
    *QUOTES,
    *FTS5,
    *TSQUERY,
    *MARKS,
    *RTL,
    *ZERO_WIDTH,
    *ASTRAL,
    *SPACES,
]


def _piece() -> st.SearchStrategy[str]:
    word = st.sampled_from(WORDS)
    return st.one_of(
        st.sampled_from(PIECES),
        word.map(lambda w: "-" + w),
        word.map(lambda w: f'"{w}'),
        st.lists(word, min_size=1, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"'),
        st.tuples(word, st.integers(2, 60)).map(lambda t: t[0] * t[1]),  # very long words
        st.text(st.characters(exclude_categories=["Cs"]), max_size=8),  # anything else
    )


def _word() -> st.SearchStrategy[str]:
    word = st.sampled_from(WORDS)
    return st.one_of(word, word, word.map(lambda w: "-" + w), st.sampled_from(PIECES))


def queries() -> st.SearchStrategy[str]:
    """A query as typed: one or two words that the corpus may hold (so that some
    queries find articles) with what may sit beside them; or up to 12 pieces of anything,
    each joined to the last by a space or nothing."""
    few = st.lists(st.tuples(_word(), st.sampled_from([" ", "", "\t"])), min_size=1, max_size=2)
    many = st.lists(st.tuples(_piece(), st.sampled_from(["", " ", "  "])), max_size=12)
    return st.one_of(few, many).map(lambda items: "".join(p + sep for p, sep in items))


def huge() -> st.SearchStrategy[str]:
    """Queries far past the limits: 10,000 terms, or a string of about 1 MB."""
    return st.one_of(
        st.sampled_from(WORDS).map(lambda w: " ".join([w] * 10_000)),
        st.integers(0, 10_000).map(lambda n: " ".join(f"w{i + n}" for i in range(10_000))),
        st.sampled_from(PIECES).map(lambda p: (p * (1_000_000 // len(p) + 1))[:1_000_000]),
    )


def sized() -> st.SearchStrategy[str]:
    """Queries of every size: mostly `queries`, sometimes `huge`."""
    return st.one_of(queries(), queries(), queries(), huge())


def _source(n: int, headline: str, *paragraphs: str, day: str = "2026-03-01") -> tuple[str, str]:
    return f"{n:03d}_{n:016x}.txt", f"date {day} {headline}\n\n" + "\n\n".join(paragraphs) + "\n"


#: The corpus as files (name, text): the words the strategies aim at, and the oddities.
SOURCES = [
    _source(1, "La riforma delle pensioni", "Il governo approva la riforma in aula a Roma."),
    _source(2, "Roma, la città eterna", "Turisti in città per il giubileo.", day="2026-03-02"),
    _source(
        3,
        "Pension reforms pass",
        "The parliament has passed the reforms to pensions, and this is what they will do.",
        day="2026-02-01",
    ),
    _source(
        4, "Calcio", "La Lazio vince il derby di Roma.", "Risultato: due a uno.", day="2026-03-03"
    ),
    _source(5, "Economia", "Le riforme economiche del governo tardano.", day="2025-12-01"),
    _source(6, "Running and more", "She runs; they ran; running shoes.", day="2026-03-04"),
    _source(
        7,
        "Unicode, a test of folding",
        "Parole rare: ᦵᦶᦷ e ᦵ ᦶ ᦷ; ᏍᎦᏚ; 𠀀𠀁; ǅemal; naïve café; perché È vero.",
        "ﷺ, שלום, مرحبا, 😀.",
        day="2026-03-05",
    ),
    _source(8, "Long words", "riforma" * 10 + " pensioni " + "x" * 60, day="2026-03-06"),
]
CORPUS: list[Article] = [parse(name, text.encode()) for name, text in SOURCES]
