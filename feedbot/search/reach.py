"""How far back a search reads: a query's effort, and the share of the archive it may read.

An engine finds a query's newest matches by reading, newest first, each of its words'
entries for the articles it passes, until it holds enough matches or the archive ends. A
search of a few words whose articles are many stops early; one whose articles are few
reads the whole archive, one entry per word and article. So a query of twenty common
words (or one word less nineteen common ones, or a phrase of common words) that almost no
article holds would read about seven times what the costliest search of `PLAIN_WORDS`
words reads. Such a search reads the newest part of the archive instead — the share
that the effort of `PLAIN_WORDS` words over the whole archive buys it — and says so:
`Found.since` is the date it read back to. What it finds there is exact, newest first;
only older matches are left out. A search of `PLAIN_WORDS` words or fewer, and any
search of a small archive (up to `WORK_FLOOR` word entries in all), reads everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from feedbot.articles.i18n import N_
from feedbot.articles.model import Entry
from feedbot.search.query import Forms, Part

__all__ = ["PLAIN_WORDS", "SEARCHED_SINCE", "WORK_FLOOR", "Found", "effort", "share"]

#: The words a search may read in every article of any archive (its included and
#: excluded words, a phrase's one by one).
PLAIN_WORDS = 3
#: Word entries any search may read, however large its share of a small archive.
WORK_FLOOR = 300_000
#: What a reader is told under the results of a search that read only the newest part.
SEARCHED_SINCE = N_("Searched the articles since {date} only: fewer words search further back.")


@dataclass(frozen=True, slots=True)
class Found:
    """What a search found, best (or newest) first, and the date it read back to when it
    did not read the whole archive (`share`): older articles were not searched."""

    entries: list[Entry] = field(default_factory=list)
    since: datetime | None = None


def effort(
    parts: Sequence[tuple[Part, Forms | None]], phrase_word: int = 1, excluded: int = 1
) -> int:
    """The entries a query reads per article: one per word of each term it searches for
    or excludes (a term it ignores reads none). An engine's own costs weigh some more: a
    phrase's words ``phrase_word`` each (their positions are compared, or each candidate's
    whole document read), an excluded term ``excluded`` times (each match is checked
    against it)."""
    total = 0
    for part, forms in parts:
        if not forms:
            continue
        words = max(len(form) for form in forms)
        weight = words if words == 1 else words * phrase_word
        total += weight * excluded if part.exclude else weight
    return total


def share(effort: int, articles: int) -> float:
    """The newest share (0 to 1) of an archive of ``articles`` that a search of ``effort``
    reads: all of it for `PLAIN_WORDS` or fewer, or when the whole read stays within
    `WORK_FLOOR`; else what `PLAIN_WORDS` words' read of the whole archive buys, the
    marks that bound the read counting as one word more."""
    if effort <= PLAIN_WORDS or (effort + 1) * articles <= WORK_FLOOR:
        return 1.0
    return max(PLAIN_WORDS * articles, WORK_FLOOR) / ((effort + 1) * articles)
