"""Searching the full-text index (`feedbot.store.search` writes it): the newest matches
of a query, ranked alike on SQLite and PostgreSQL from the index alone.

Ranking: of the newest `CANDIDATES` matches (read in key order: a key's high bits are
the article's date), relevance — per term of the query `HEADLINE` if an article holds it
in its headline, else `HEADING` in a section heading, else `TEXT` — divided by
``1 + age / RECENCY_DAYS``, where age is days since the article's date: an article
`RECENCY_DAYS` old needs twice the relevance of one from today. Ties go to the newest.
Which candidates hold a term in a field is asked of the field's marked words
(`feedbot.search.words.FIELD_MARKS`): on SQLite one short index walk per term and field,
on PostgreSQL a test of each candidate's small ``fields`` vector, on the row the search
reads anyway. No engine
score is computed (FTS5's ``bm25`` reads every match of every term to weigh it,
``ts_rank`` every candidate's whole vector).
"""

from __future__ import annotations

import heapq
import json
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice

from sqlalchemy import Connection, func, select, text

from feedbot.articles.model import Entry, article_from_dict
from feedbot.search.query import Forms, Query
from feedbot.search.reach import Found, effort, share
from feedbot.store.engine import Database
from feedbot.store.matching import compile_fts5, compile_tsquery, field_params
from feedbot.store.schema import articles, search_docs
from feedbot.store.search import SLOT_BITS, date_of, month_of, seconds, span_marks

__all__ = [
    "CANDIDATES",
    "HEADING",
    "HEADLINE",
    "RECENCY_DAYS",
    "TEXT",
    "Search",
]

RECENCY_DAYS = 30

#: The matches ranked: the newest this many (by date). The ranking divides relevance by
#: age, so an older match would need many times the relevance to place; and no reader
#: pages past `feedbot.publish.results.MAX_PAGES` pages of 20.
CANDIDATES = 1000

#: What a query's term earns where an article holds it: in the headline, in a section
#: heading, only in the text.
HEADLINE, HEADING, TEXT = 10, 4, 1

# The newest matches, read from the index in key order (a key's high bits are its
# article's date), so neither engine sorts; `_IN_FIELD` then asks which of them hold each
# term in each field: on SQLite a walk of the marked term's entries from the oldest
# candidate; on PostgreSQL the read itself tests each candidate's ``fields`` vector.
_NEWEST = {
    False: text(
        "SELECT rowid FROM search_fts WHERE search_fts MATCH :match AND rowid >= :floor "
        "ORDER BY rowid DESC LIMIT :window"
    ),
    True: text(
        "SELECT docid FROM search_docs WHERE vector @@ CAST(:match AS tsquery) "
        "AND docid < :below ORDER BY docid DESC LIMIT :window"
    ),
}
# PostgreSQL, ranking: the same read, each candidate's fields tested on the row the read
# visits anyway (after the limit: only the rows kept are tested), rather than by a second
# read of those rows by key.
_NEWEST_TESTED = (
    "SELECT docid, {tests} FROM (SELECT docid, fields FROM search_docs "
    "WHERE vector @@ CAST(:match AS tsquery) AND docid < :below "
    "ORDER BY docid DESC LIMIT :window) newest ORDER BY docid DESC"
)
_IN_FIELD = "SELECT {n}, rowid FROM search_fts WHERE search_fts MATCH :m{n} AND rowid >= :lo"
_IN_FIELD_FEW = (
    "SELECT {n}, rowid FROM search_fts WHERE search_fts MATCH :m{n} "
    "AND rowid IN (SELECT value FROM json_each(:keys))"
)
#: SQLite: up to this many candidates, their fields are looked up by key (a seek each per
#: term and field) instead of walking the match again from the oldest one: few matches
#: of common words lie far apart, and the walk would read the match's whole doclists.
_FEW = 64
_FIELD_TEST = "fields @@ CAST(:m{n} AS tsquery)"

# The two ends of the keys (planned before the settings change: the key index gives them
# at once), and for the rest of the search's transaction: GIN's bitmaps only (no walk of
# the key index that reads vectors, no full scan), and no parallel workers (they cost
# more to start than these reads take).
_ENDS_THEN_BITMAPS_ONLY = text(
    "SELECT min(docid), max(docid), set_config('enable_seqscan', 'off', true), "
    "set_config('enable_indexscan', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true) FROM search_docs"
)
# PostgreSQL names at most this many months (`MONTH_MARK`) in one query; past that, a
# search reads all that is older at once (the match is rare by then).
_MAX_SPAN = 48
# SQLite: the ends of the keys, for a search that reads only the newest share.
_ENDS = text(  # each its own subquery: SQLite reads a lone min or max off the index
    "SELECT (SELECT min(docid) FROM search_docs), (SELECT max(docid) FROM search_docs)"
)
#: What a phrase's word and an excluded term weigh against a word in the effort that
#: decides how far back a search reads (`feedbot.search.reach.effort`), by engine
#: (measured over 100,000 articles, `bench search`): FTS5 compares a phrase's positions
#: and checks each match against the excluded terms' entries; PostgreSQL reads each
#: candidate's whole vector for a phrase (GIN only knows which hold its words), and GIN
#: itself rules out excluded words.
WEIGHTS = {"sqlite": (2, 2), "postgresql": (8, 1)}


#: For each term of a query, the candidates that hold it in their headline, and those that
#: hold it in a section heading.
Fields = list[tuple[set[int], set[int]]]


def _fields_sqlite(
    conn: Connection, match: str, terms: Sequence[Forms], keys: Sequence[int]
) -> Fields:
    """For each term, the ``keys`` (candidates, newest first) — or a superset of them from
    the oldest on — that hold it in the headline, and those that hold it in a heading, in
    one statement."""
    found: Fields = [(set(), set()) for _ in terms]
    few = len(keys) <= _FEW
    params: dict[str, object] = dict(field_params(terms, None if few else match, False))
    if few:
        params["keys"], select = json.dumps(list(keys)), _IN_FIELD_FEW
    else:
        params["lo"], select = keys[-1], _IN_FIELD
    selects = " UNION ALL ".join(select.format(n=n) for n in range(len(params) - 1))
    for n, key in conn.execute(text(selects), params).all():
        found[n // 2][n % 2].add(key)
    return found


def _ranked(
    keys: Sequence[int], fields: Sequence[tuple[set[int], set[int]]], now: datetime
) -> Iterator[int]:
    """``keys`` (newest first) best first: relevance — per term `HEADLINE`, `HEADING` or
    `TEXT`, by where the article holds it — divided by ``1 + age / RECENCY_DAYS``; ties
    to the newest. The matches holding every term only in the text are in order already
    (the newer, the better), so only those the fields lift are scored and sorted."""
    today = seconds(now)
    lift: dict[int, int] = {}
    for headline, heading in fields:
        for key in heading:
            lift[key] = lift.get(key, 0) + HEADING - TEXT
        for key in headline:
            lift[key] = lift.get(key, 0) + HEADLINE - (HEADING if key in heading else TEXT)
    base = len(fields) * TEXT

    def order(key: int) -> tuple[float, int]:
        age = max(0, today - (key >> SLOT_BITS)) / 86400
        return -(base + lift.get(key, 0)) / (1 + age / RECENCY_DAYS), -key

    lifted = sorted((k for k in keys if k in lift), key=order)
    return heapq.merge(lifted, (k for k in keys if k not in lift), key=order)


def _newest_postgres(
    conn: Connection, match: str, terms: Sequence[Forms] | None, part: float
) -> tuple[list[int], Fields, int | None]:
    """The newest `CANDIDATES` matches on PostgreSQL in the newest ``part`` of the keys'
    span; when ``terms`` are given (a ranked search), which of them hold each term in
    which field; and the key the read stopped at when that part ended it (else None).

    GIN knows which rows match but not their keys: reading the newest of 50,000 matches
    would visit 50,000 rows, and a walk of the key index backwards would read (and
    decompress) every vector until enough matched — all of them when none does. So each
    vector holds its month (`MONTH_MARK`), and the index is asked for the matches of
    the newest month, then of as many older months as the matches so far say should
    hold the rest, and so on; the bitmap plan is the only one allowed, so a row is
    visited only when it matches, and about once. The fields are tested on the rows
    those reads keep (`_NEWEST_TESTED`), not read again."""
    found: Fields = [(set(), set()) for _ in terms or ()]
    tests = field_params(terms or (), None, True)
    statement = _NEWEST[True]
    if tests:
        listed = ", ".join(_FIELD_TEST.format(n=n) for n in range(len(tests)))
        statement = text(_NEWEST_TESTED.format(tests=listed))
    keys: list[int] = []

    def read(match: str, below: int) -> None:
        params = {"match": match, "below": below, "window": CANDIDATES - len(keys), **tests}
        # fetched at once: one row at a time costs more than the search. The floor is
        # applied here, not in SQL: a range on both sides of the key would have the
        # planner AND GIN's bitmap with one of the key index over the whole range.
        for key, *held in conn.execute(statement, params).all():
            if key < floor:
                break  # newest first: the rest are older still
            keys.append(key)
            for n, hit in enumerate(held):
                if hit:
                    found[n // 2][n % 2].add(key)

    bottom, top, *_ = conn.execute(_ENDS_THEN_BITMAPS_ONLY).one()
    if top is None:
        return keys, found, None
    floor = _floor(bottom, top, part)
    first, last = month_of(floor), month_of(top)
    newest = last
    span, oldest = 1, newest + 1  # the months from oldest to newest are read
    while last >= first:
        if span > _MAX_SPAN:  # a rare match: all that is older (down to the floor), at once
            # the floor's months as marks while they are few: GIN then reads less of each
            # term; many marks would cost more than the rows they spare
            few = floor > bottom and oldest - first <= _MAX_SPAN
            read(f"({match}) & ({_span(first, oldest - 1)})" if few else match, _first_key(oldest))
            break
        oldest = max(first, last - span + 1)
        read(f"({match}) & ({_span(oldest, last)})", top + 1)
        if len(keys) >= CANDIDATES:
            break
        last = oldest - 1
        rate = len(keys) / (newest - oldest + 1)  # matches a month so far
        # none yet: look four times as far; a search bounded by a floor (a costly one,
        # each read of which reads much of every term's entries) reads all the rest
        grow = 4 * span if floor == bottom else _MAX_SPAN + 1
        span = math.ceil((CANDIDATES - len(keys)) / rate * 1.25) if rate else grow
    return keys, found, floor if floor > bottom and len(keys) < CANDIDATES else None


def _floor(bottom: int, top: int, part: float) -> int:
    """The oldest key of the newest ``part`` of the span from ``bottom`` to ``top``."""
    return bottom if part >= 1 else max(bottom, top - int((top - bottom) * part))


def _reach(keys: Sequence[int], terms: int, places: int, now: datetime) -> int:
    """The oldest of ``keys`` (newest first) that could still rank among the first
    ``places``: the first ``places`` keys score at least what the last of them does with
    no field lifting it, and an article ``age`` days old scores at most every term in
    its headline divided by ``1 + age / RECENCY_DAYS`` — an older one cannot place, so
    which fields hold its terms need not be asked (a day's margin for rounding)."""
    if len(keys) <= places:
        return keys[-1]
    today = seconds(now)
    age = max(0, today - (keys[places - 1] >> SLOT_BITS)) / 86400
    floor = terms * TEXT / (1 + age / RECENCY_DAYS)
    reach = RECENCY_DAYS * (terms * HEADLINE / floor - 1) + 1  # days
    return max(keys[-1], (today - math.ceil(reach * 86400)) << SLOT_BITS)


def _span(first: int, last: int) -> str:
    """Matches the articles of the months ``first`` to ``last`` (`span_marks`)."""
    return " | ".join(f"'{mark}'" for mark in span_marks(first, last))


def _first_key(month: int) -> int:
    """The first key of a month (counted from year 1)."""
    year, index = divmod(month, 12)
    return seconds(datetime(year, index + 1, 1, tzinfo=UTC)) << SLOT_BITS


class Search:
    """Queries the index (kept complete by `backfill`, which the indexer runs)."""

    def __init__(self, db: Database, version: Callable[[], object] = object) -> None:
        self._db = db
        self._version = version  # the articles' version: a change may bring a language
        self._known: tuple[object, list[str], int] = (object(), [], 0)

    def find(
        self,
        query: Query,
        now: datetime,
        *,
        offset: int = 0,
        limit: int = 20,
        newest: bool = False,
    ) -> Found:
        """The published articles ``query`` finds: best first (see the module doc), or
        ``newest`` first (a search's feed); and the date the search read back to when it read
        only the newest part of the archive (`feedbot.search.reach`)."""
        with self._db.read() as conn:
            languages, indexed = self._archive(conn)
            parts = query.variants(languages)
            postgres = conn.dialect.name == "postgresql"
            match = compile_tsquery(parts) if postgres else compile_fts5(parts)
            if match is None:
                return Found()
            terms = [forms for part, forms in parts if not part.exclude and forms]
            part = share(effort(parts, *WEIGHTS[conn.dialect.name]), indexed)
            keys: Sequence[int]
            cut: int | None = None
            if postgres:
                keys, fields, cut = _newest_postgres(conn, match, None if newest else terms, part)
            else:
                floor = 0
                if part < 1:
                    bottom, top = conn.execute(_ENDS).one()
                    floor = 0 if top is None else _floor(bottom, top, part)
                if floor:  # FTS5 stops at the floor only once a match is past it: the
                    # marks of the months from it on end every term's reading there
                    cut = floor if floor > bottom else None
                    marks = span_marks(month_of(floor), month_of(top))
                    match = compile_fts5(parts, marks) or match  # the same terms: never None
                params = {"match": match, "floor": floor, "window": CANDIDATES}
                keys = conn.scalars(_NEWEST[False], params).all()
                cut = cut if len(keys) < CANDIDATES else None
            since = None if cut is None else date_of(cut)
            if not newest and len(keys) > 1:
                if not postgres:
                    oldest = _reach(keys, len(terms), offset + limit, now)
                    reached = [k for k in keys if k >= oldest]
                    fields = _fields_sqlite(conn, match, terms, reached)
                keys = list(islice(_ranked(keys, fields, now), offset + limit))
            keys = keys[offset : offset + limit]
            if not keys:
                return Found([], since)
            rows = conn.execute(
                select(search_docs.c.docid, articles.c.body, articles.c.updated)
                .join(articles, articles.c.id == search_docs.c.article_id)
                .where(search_docs.c.docid.in_(keys))
            ).all()
        by_key = {r.docid: r for r in rows}
        entries = [
            Entry(article_from_dict(json.loads(by_key[d].body)), by_key[d].updated)
            for d in keys
            if d in by_key
        ]
        return Found(entries, since)

    def _archive(self, conn: Connection) -> tuple[list[str], int]:
        """The languages of the published articles, which choose the stemmers a query's
        words are reduced by, and "und" (the words as they are); and how many articles
        the index holds, which bounds a costly search (`feedbot.search.reach`). Read
        again only after the articles changed."""
        version = self._version()
        seen, languages, indexed = self._known
        if version != seen:
            query = select(articles.c.language).distinct()  # all: the index answers
            languages = sorted({row[0] for row in conn.execute(query)} | {"und"})
            indexed = int(conn.scalar(select(func.count()).select_from(search_docs)) or 0)
            self._known = (version, languages, indexed)
        return languages, indexed
