"""Full-text search in the database: SQLite FTS5 or PostgreSQL ``tsvector`` + GIN.

Neither engine tokenizes: both store the words `feedbot.search.words` made (FTS5 as
three columns, PostgreSQL as a weighted ``tsvector`` literal) and receive the query as
the alternatives `feedbot.search.query.Query.variants` made, so one query finds the same
articles on both. `index` runs inside the transaction that writes the articles, so a
search never finds an article's old words after its edit commits; the index holds only
published articles (a scheduled one joins it when released, a removed one leaves it).

Ranking, alike on both engines and from the index alone: of the newest `CANDIDATES`
matches (read in key order: a key's high bits are the article's date), relevance — per
term of the query `HEADLINE` if an article holds it in its headline, else `HEADING` in
a section heading, else `TEXT` — divided by ``1 + age / RECENCY_DAYS``, where age is
days since the article's date: an article `RECENCY_DAYS` old needs twice the relevance
of one from today. Ties go to the newest. Which candidates hold a term in a field is
one short index walk per term and field, over the field's marked words
(`feedbot.search.words.FIELD_MARKS`); no engine score is computed (FTS5's ``bm25``
reads every match of every term to weigh it, ``ts_rank`` every candidate's vector).
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from itertools import islice

from sqlalchemy import Connection, func, select, text

from feedbot.articles.model import Article, Entry, article_from_dict
from feedbot.errors import UnstorableError
from feedbot.search.query import Forms, Part, Query
from feedbot.search.words import FIELD_MARKS, document
from feedbot.store.engine import Database, set_state
from feedbot.store.schema import articles, search_docs

__all__ = [
    "CANDIDATES",
    "RECENCY_DAYS",
    "WORDS_VERSION",
    "Hit",
    "Search",
    "backfill",
    "index",
    "merge",
    "unindex",
]

log = logging.getLogger("feedbot.search")

RECENCY_DAYS = 30
#: Changes when the words an article is found by change: then the index is rebuilt.
WORDS_VERSION = f"2 PyStemmer {version('PyStemmer')}"
WORDS_KEY = "search_words"
_BACKFILL_BATCH = 500

#: The matches ranked: the newest this many (by date). The ranking divides relevance by
#: age, so an older match would need many times the relevance to place; and no reader
#: pages past `feedbot.publish.results.MAX_PAGES` pages of 20.
CANDIDATES = 1000

#: What a query's term earns where an article holds it: in the headline, in a section
#: heading, only in the text.
HEADLINE, HEADING, TEXT = 10, 4, 1

# The newest matches, read from the index in key order (a key's high bits are its
# article's date), so neither engine sorts; `_IN_FIELD` then asks, per term and field,
# which of them hold it there: a walk of that term's entries from the oldest candidate.
_NEWEST = {
    False: text(
        "SELECT rowid FROM search_fts WHERE search_fts MATCH :match "
        "ORDER BY rowid DESC LIMIT :window"
    ),
    True: text(
        "SELECT docid FROM search_docs WHERE vector @@ CAST(:match AS tsquery) "
        "AND docid < :below ORDER BY docid DESC LIMIT :window"
    ),
}
_IN_FIELD = {
    False: "SELECT {n}, rowid FROM search_fts WHERE search_fts MATCH :m{n} AND rowid >= :lo",
    True: "SELECT {n}, docid FROM search_docs "
    "WHERE vector @@ CAST(:m{n} AS tsquery) AND docid >= :lo",
}

# PostgreSQL: each vector's month, as a word no query can type; a search names at most
# `_MAX_SPAN` months at once (past that, it reads all that is older).
_MONTH_MARK = "\ue003"
# For the rest of the search's transaction: GIN's bitmaps only (no walk of the key index
# that reads vectors, no full scan), and no parallel workers (they cost more to start
# than these reads take).
_BITMAP_ONLY = text(
    "SELECT set_config('enable_seqscan', 'off', true), "
    "set_config('enable_indexscan', 'off', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)
_MAX_SPAN = 48

# A document's key orders the index by date: the second of the article's date, shifted
# past `_SLOT_BITS` bits that number the articles of one second (years 1-9999 fit in 63
# bits). Both engines read the newest matches first, by key, without a sort.
_SLOT_BITS = 24
_EPOCH = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())


def _base(article: Article) -> int:
    return _seconds(article.date.value) << _SLOT_BITS


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp()) - _EPOCH


@dataclass(frozen=True, slots=True)
class Hit:
    """One article found, in rank order."""

    entry: Entry

    @property
    def article(self) -> Article:
        return self.entry.article


def index(conn: Connection, found: Sequence[Article]) -> None:
    """Write the search words of ``found`` (new or changed), in the caller's transaction,
    after their rows: an article still scheduled is left out (and taken out) until
    `Articles.release_due` publishes it, so the index holds only what readers may find."""
    if not found:
        return
    articles_by_id = {a.id: a for a in found}  # an id twice in a batch: the last
    waiting = set(
        conn.scalars(
            select(articles.c.id).where(
                articles.c.id.in_(list(articles_by_id)), articles.c.scheduled.is_(True)
            )
        )
    )
    if waiting:
        unindex(conn, sorted(waiting))
        articles_by_id = {i: a for i, a in articles_by_id.items() if i not in waiting}
        if not articles_by_id:
            return
    known = dict(
        conn.execute(
            select(search_docs.c.article_id, search_docs.c.docid).where(
                search_docs.c.article_id.in_(list(articles_by_id))
            )
        ).all()
    )
    postgres = conn.dialect.name == "postgresql"
    keep = {
        i: d for i, d in known.items() if d >> _SLOT_BITS == _base(articles_by_id[i]) >> _SLOT_BITS
    }
    moved = [d for i, d in known.items() if i not in keep]  # the date changed: a new key
    if not postgres and keep:
        conn.execute(
            text("DELETE FROM search_fts WHERE rowid = :d"), [{"d": d} for d in keep.values()]
        )
    _drop(conn, moved)
    fresh = [a for i, a in articles_by_id.items() if i not in keep]
    docids = keep | _allocate(conn, fresh)
    if fresh:
        rows = [{"docid": docids[a.id], "article_id": a.id} for a in fresh]
        if postgres:
            conn.execute(
                text(  # the vector column is PostgreSQL's own, outside the shared schema
                    "INSERT INTO search_docs (docid, article_id, vector) "
                    "VALUES (:docid, :article_id, CAST(:vector AS tsvector))"
                ),
                [r | {"vector": _vector(articles_by_id[r["article_id"]])} for r in rows],
            )
        else:
            conn.execute(search_docs.insert(), rows)
    if postgres:
        if keep:
            conn.execute(
                text(
                    "UPDATE search_docs SET vector = CAST(:vector AS tsvector) WHERE docid = :docid"
                ),
                [{"docid": d, "vector": _vector(articles_by_id[i])} for i, d in keep.items()],
            )
        return
    fts = []
    for article in articles_by_id.values():
        headline, headings, body = document(article).columns()
        fts.append({"docid": docids[article.id], "h": headline, "s": headings, "b": body})
    conn.execute(
        text(
            "INSERT INTO search_fts (rowid, headline, headings, body) VALUES (:docid, :h, :s, :b)"
        ),
        fts,
    )


def _vector(article: Article) -> str:
    """The article's ``tsvector``: its words, and its month (`_MONTH_MARK`)."""
    month = _month(_seconds(article.date.value) << _SLOT_BITS)
    return f"{document(article).tsvector()} '{_MONTH_MARK}{month}'"


def _month(key: int) -> int:
    """The month of a key's date, counted from year 1."""
    day = datetime(1, 1, 1, tzinfo=UTC) + timedelta(seconds=key >> _SLOT_BITS)
    return day.year * 12 + day.month - 1


def unindex(conn: Connection, article_ids: Sequence[str]) -> None:
    """Take removed articles out of the index (a restored one is indexed anew)."""
    if article_ids:
        query = select(search_docs.c.docid).where(search_docs.c.article_id.in_(article_ids))
        _drop(conn, list(conn.scalars(query)))


def _drop(conn: Connection, docids: Sequence[int]) -> None:
    if not docids:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(text("DELETE FROM search_fts WHERE rowid = :d"), [{"d": d} for d in docids])
    conn.execute(search_docs.delete().where(search_docs.c.docid.in_(docids)))


_LAST_KEYS_SQLITE = text(
    "SELECT b.value, (SELECT max(docid) FROM search_docs "
    "WHERE docid >= b.value AND docid < b.value + :slot) FROM json_each(:bases) b"
)
_LAST_KEYS_POSTGRES = text(
    "SELECT b, (SELECT max(docid) FROM search_docs WHERE docid >= b AND docid < b + :slot) "
    "FROM unnest(CAST(:bases AS bigint[])) b"
)


def _allocate(conn: Connection, articles: Sequence[Article]) -> dict[str, int]:
    """New keys for ``articles``: after the last key of each one's date-second."""
    bases = sorted({_base(a) for a in articles})
    if not bases:
        return {}
    # One statement for the batch: the last key in each base's slot, by an index range each.
    postgres = conn.dialect.name == "postgresql"
    tops = conn.execute(
        _LAST_KEYS_POSTGRES if postgres else _LAST_KEYS_SQLITE,
        {"bases": bases if postgres else json.dumps(bases), "slot": 1 << _SLOT_BITS},
    ).all()
    last = {int(base): base - 1 if top is None else int(top) for base, top in tops}
    keys = {}
    for article in articles:
        base = _base(article)
        last[base] += 1
        if last[base] >= base + (1 << _SLOT_BITS):
            raise UnstorableError(f"more than {1 << _SLOT_BITS} articles dated the same second")
        keys[article.id] = last[base]
    return keys


def compile_fts5(parts: Sequence[tuple[Part, Forms | None]]) -> str | None:
    """The FTS5 MATCH expression, or None when nothing can match."""
    return _compile(parts, "AND", "OR", " NOT ", _fts5_phrase)


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
) -> str | None:
    included = [forms for part, forms in parts if not part.exclude and forms is not None]
    if not included or not all(included):
        return None  # no term to look for, or one no article can hold
    found = "(" + f" {and_} ".join(_either(f, or_, phrase) for f in included) + ")"
    excluded = [_either(forms, or_, phrase) for part, forms in parts if part.exclude and forms]
    if excluded:
        found += but_not + "(" + f" {or_} ".join(excluded) + ")"
    return found


def _in_fields(within: str, forms: Forms, postgres: bool) -> tuple[str, str]:
    """The articles of ``within`` (the query's match, or PostgreSQL's months of the
    candidates) that hold a term (``forms``) in their headline, and those that hold it
    in a section heading, as match expressions of the marked words."""
    and_, or_, phrase = ("&", "|", _tsquery_phrase) if postgres else ("AND", "OR", _fts5_phrase)
    headline, heading = (
        f"({within}) {and_} " + _either([tuple(m + w for w in f) for f in forms], or_, phrase)
        for m in FIELD_MARKS
    )
    return headline, heading


def _fields(
    conn: Connection, within: str, terms: Sequence[Forms], oldest: int, postgres: bool
) -> list[tuple[set[int], set[int]]]:
    """For each term, the keys from ``oldest`` on (of ``within``: see `_in_fields`) that
    hold it in the headline, and those that hold it in a heading — a superset of the
    candidates' — in one statement, an index walk per term and field."""
    selects: list[str] = []
    params: dict[str, object] = {"lo": oldest}
    for i, forms in enumerate(terms):
        for j, expression in enumerate(_in_fields(within, forms, postgres)):
            selects.append(_IN_FIELD[postgres].format(n=2 * i + j))
            params[f"m{2 * i + j}"] = expression
    found: list[tuple[set[int], set[int]]] = [(set(), set()) for _ in terms]
    for n, key in conn.execute(text(" UNION ALL ".join(selects)), params).all():
        found[n // 2][n % 2].add(key)
    return found


def _ranked(
    keys: Sequence[int], fields: Sequence[tuple[set[int], set[int]]], now: datetime
) -> Iterator[int]:
    """``keys`` (newest first) best first: relevance — per term `HEADLINE`, `HEADING` or
    `TEXT`, by where the article holds it — divided by ``1 + age / RECENCY_DAYS``; ties
    to the newest. The matches holding every term only in the text are in order already
    (the newer, the better), so only those the fields lift are scored and sorted."""
    today = _seconds(now)
    lift: dict[int, int] = {}
    for headline, heading in fields:
        for key in heading:
            lift[key] = lift.get(key, 0) + HEADING - TEXT
        for key in headline:
            lift[key] = lift.get(key, 0) + HEADLINE - (HEADING if key in heading else TEXT)
    base = len(fields) * TEXT

    def order(key: int) -> tuple[float, int]:
        age = max(0, today - (key >> _SLOT_BITS)) / 86400
        return -(base + lift.get(key, 0)) / (1 + age / RECENCY_DAYS), -key

    lifted = sorted((k for k in keys if k in lift), key=order)
    return heapq.merge(lifted, (k for k in keys if k not in lift), key=order)


def _newest_postgres(conn: Connection, match: str) -> tuple[list[int], str]:
    """The newest `CANDIDATES` matches on PostgreSQL, and a ``tsquery`` that holds them
    for `_fields` to look in: the months they are from (the marked words of a few months
    are a short read) or, over more than `_MAX_SPAN` months, the match itself.

    GIN knows which rows match but not their keys: reading the newest of 50,000 matches
    would visit 50,000 rows, and a walk of the key index backwards would read (and
    decompress) every vector until enough matched — all of them when none does. So each
    vector holds its month (`_MONTH_MARK`), and the index is asked for the matches of
    the newest month, then of as many older months as the matches so far say should
    hold the rest, and so on; the bitmap plan is the only one allowed, so a row is
    visited only when it matches, and about once."""
    bottom, top = conn.execute(text("SELECT min(docid), max(docid) FROM search_docs")).one()
    if top is None:
        return [], match
    conn.execute(_BITMAP_ONLY)  # after the two ends, which the key index gives at once
    first, last = _month(bottom), _month(top)
    newest = last
    keys: list[int] = []
    span, oldest = 1, newest + 1  # the months from oldest to newest are read
    while last >= first:
        if span > _MAX_SPAN:  # a rare match: all that is older, at once
            keys.extend(
                conn.scalars(
                    _NEWEST[True],
                    {
                        "match": match,
                        "below": _key_of_month(oldest),
                        "window": CANDIDATES - len(keys),
                    },
                )
            )
            return keys, match
        oldest = max(first, last - span + 1)
        within = f"({match}) & ({_months(oldest, last)})"
        keys.extend(
            conn.scalars(
                _NEWEST[True],
                {"match": within, "below": top + 1, "window": CANDIDATES - len(keys)},
            )
        )
        if len(keys) >= CANDIDATES:
            break
        last = oldest - 1
        rate = len(keys) / (newest - oldest + 1)  # matches a month so far
        span = math.ceil((CANDIDATES - len(keys)) / rate * 1.25) if rate else 4 * span
    if newest - oldest + 1 > _MAX_SPAN:
        return keys, match
    return keys, f"({match}) & ({_months(oldest, newest)})"


def _months(first: int, last: int) -> str:
    return " | ".join(f"'{_MONTH_MARK}{m}'" for m in range(first, last + 1))


def _key_of_month(month: int) -> int:
    """The first key of a month (counted from year 1)."""
    year, index = divmod(month, 12)
    return _seconds(datetime(year, index + 1, 1, tzinfo=UTC)) << _SLOT_BITS


class Search:
    """Queries the index (kept complete by `backfill`, which the indexer runs)."""

    def __init__(self, db: Database, version: Callable[[], object] = object) -> None:
        self._db = db
        self._version = version  # the articles' version: a change may bring a language
        self._known: tuple[object, list[str]] = (object(), [])

    def find(
        self,
        query: Query,
        now: datetime,
        *,
        offset: int = 0,
        limit: int = 20,
        newest: bool = False,
    ) -> list[Hit]:
        """The published articles ``query`` finds: best first (see the module doc), or
        ``newest`` first (a search's feed)."""
        with self._db.read() as conn:
            parts = query.variants(self._languages(conn))
            postgres = conn.dialect.name == "postgresql"
            match = compile_tsquery(parts) if postgres else compile_fts5(parts)
            if match is None:
                return []
            keys: Sequence[int]
            within = match
            if postgres:
                keys, within = _newest_postgres(conn, match)
            else:
                keys = conn.scalars(_NEWEST[False], {"match": match, "window": CANDIDATES}).all()
            if not newest and len(keys) > 1:
                terms = [forms for part, forms in parts if not part.exclude and forms]
                fields = _fields(conn, within, terms, keys[-1], postgres)
                keys = list(islice(_ranked(keys, fields, now), offset + limit))
            keys = keys[offset : offset + limit]
            if not keys:
                return []
            rows = conn.execute(
                select(search_docs.c.docid, articles.c.body, articles.c.updated)
                .join(articles, articles.c.id == search_docs.c.article_id)
                .where(search_docs.c.docid.in_(keys))
            ).all()
        by_key = {r.docid: r for r in rows}
        return [
            Hit(Entry(article_from_dict(json.loads(by_key[d].body)), by_key[d].updated))
            for d in keys
            if d in by_key
        ]

    def _languages(self, conn: Connection) -> list[str]:
        """The languages of the published articles, which choose the stemmers a query's
        words are reduced by, and "und" (the words as they are); read again only after
        the articles changed."""
        version = self._version()
        seen, languages = self._known
        if version != seen:
            query = select(articles.c.language).distinct()  # all: the index answers
            languages = sorted({row[0] for row in conn.execute(query)} | {"und"})
            self._known = (version, languages)
        return languages


def backfill(
    db: Database,
    write: Callable[[], AbstractContextManager[Connection]],
    stop: Callable[[], bool] | None = None,
) -> int | None:
    """Index every published article the index lacks (a database from before search, or
    words that changed: `WORDS_VERSION`), in transactions of ``write`` (the leader's
    fence) of `_BACKFILL_BATCH` articles, logging progress every few seconds. The number
    indexed, or None when ``stop`` said to stop first (the rest waits)."""
    with write() as conn:
        if db.get_state(WORDS_KEY) != WORDS_VERSION:
            _clear(conn)
            set_state(conn, WORDS_KEY, WORDS_VERSION)
    lacking = (
        articles.c.removed_at.is_(None),
        articles.c.scheduled.is_(False),
        ~select(1).where(search_docs.c.article_id == articles.c.id).exists(),
    )
    with db.read() as conn:
        total = int(conn.scalar(select(func.count()).select_from(articles).where(*lacking)) or 0)
    if not total:
        return 0
    batch_query = select(articles.c.body).where(*lacking).limit(_BACKFILL_BATCH)
    done, started = 0, time.monotonic()
    shown = started
    while True:
        if stop is not None and stop():
            return None
        with write() as conn:
            batch = [article_from_dict(json.loads(r.body)) for r in conn.execute(batch_query)]
            index(conn, batch)
        done += len(batch)
        last = len(batch) < _BACKFILL_BATCH
        if done and (last or time.monotonic() - shown > 2):
            log.info("search index: %d of %d articles", done, max(done, total))
            shown = time.monotonic()
        if last:
            took = time.monotonic() - started
            log.info("search index: %d articles indexed in %.1f s", done, took)
            return done


#: Pages of index one merge step writes, in a transaction of its own (a few hundred ms).
_MERGE_PAGES = 2000


def merge(
    write: Callable[[], AbstractContextManager[Connection]],
    stop: Callable[[], bool] | None = None,
) -> int | None:
    """Merge SQLite's FTS5 index into one segment, as its 'optimize' command does, but in
    steps of `_MERGE_PAGES` pages, each in a short transaction of ``write``: after a bulk
    of writes (a cold scan, a backfill) the index is a stack of segments that every
    search reads term by term, and deleted words stay in them until merged. The number
    of steps, or None when ``stop`` said to stop first. PostgreSQL's GIN needs none."""
    steps, started = 0, time.monotonic()
    while True:
        if stop is not None and stop():
            return None
        with write() as conn:
            if conn.dialect.name == "postgresql":
                return 0
            before = int(conn.scalar(text("SELECT total_changes()")) or 0)
            conn.execute(  # negative: every segment to one level, merged down to one
                text("INSERT INTO search_fts (search_fts, rank) VALUES ('merge', :pages)"),
                {"pages": -_MERGE_PAGES},
            )
            written = int(conn.scalar(text("SELECT total_changes()")) or 0) - before
        steps += 1
        if written < 2:  # FTS5's sign that nothing was left to merge
            log.info("search index: merged in %d steps, %.1f s", steps, time.monotonic() - started)
            return steps


def _clear(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(text("DELETE FROM search_fts"))
    conn.execute(search_docs.delete())
