"""Full-text search in the database: SQLite FTS5 or PostgreSQL ``tsvector`` + GIN.

Neither engine tokenizes: both store the words `feedbot.search.words` made (FTS5 as
three columns, PostgreSQL as a weighted ``tsvector`` literal) and receive the query as
the alternatives `feedbot.search.query.Query.variants` made, so one query finds the same
articles on both. `index` runs inside the transaction that writes the articles, so a
search never finds an article's old words after its edit commits. Removed and scheduled
articles stay in the index and are filtered out by the article row, so they reappear
with the row's state, never before.

Ranking: the engine's relevance (FTS5 ``bm25`` with the headline weighing 10, headings
4, text 1; PostgreSQL ``ts_rank`` with weights 1.0 / 0.4 / 0.1) divided by
``1 + age / RECENCY_DAYS``, where age is days since the article's date: an article
`RECENCY_DAYS` old needs twice the relevance of one from today. Ties go to the newest
(date, then seq, then id).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from typing import Any

from sqlalchemy import Connection, func, select, text

from feedbot.articles.model import Article, Entry, article_from_dict
from feedbot.errors import UnstorableError
from feedbot.search.query import Forms, Part, Query
from feedbot.search.words import document
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
    "unindex",
]

log = logging.getLogger("feedbot.search")

RECENCY_DAYS = 30
#: Changes when the words an article is found by change: then the index is rebuilt.
WORDS_VERSION = f"1 PyStemmer {version('PyStemmer')}"
WORDS_KEY = "search_words"
_BACKFILL_BATCH = 500

#: The matches ranked: the newest this many (by date). The ranking divides relevance by
#: age, so an older match would need many times the relevance to place; and no reader
#: pages past `feedbot.publish.results.MAX_PAGES` pages of 20.
CANDIDATES = 1000

# Ranked from the index alone: a key's high bits are its article's date (seconds since
# year 1), so age needs no article row; the bodies of the page are read afterwards.
_SQLITE = """
    WITH c AS (
        SELECT rowid AS docid, bm25(search_fts, 10.0, 4.0, 1.0) AS relevance FROM search_fts
        WHERE search_fts MATCH :match ORDER BY rowid DESC LIMIT :window
    )
    SELECT docid FROM c ORDER BY {rank} docid DESC LIMIT :limit OFFSET :offset
"""
_SQLITE_RANK = "-relevance / (1 + max(0, :now - (docid >> 24)) / 86400.0 / :days) DESC,"
_POSTGRES = """
    WITH c AS (
        SELECT docid, vector FROM search_docs
        WHERE vector @@ CAST(:match AS tsquery) ORDER BY docid DESC LIMIT :window
    )
    SELECT docid FROM c, CAST(:match AS tsquery) q
    ORDER BY {rank} docid DESC LIMIT :limit OFFSET :offset
"""
_POSTGRES_RANK = """ts_rank('{0.1, 0.1, 0.4, 1.0}', vector, q)
    / (1 + greatest(0, :now - (docid >> 24)) / 86400.0 / :days) DESC,"""

# (dialect is PostgreSQL, newest first) → the statement
_QUERIES = {
    (False, False): text(_SQLITE.replace("{rank}", _SQLITE_RANK)),
    (False, True): text(_SQLITE.replace("{rank}", "")),
    (True, False): text(_POSTGRES.replace("{rank}", _POSTGRES_RANK)),
    (True, True): text(_POSTGRES.replace("{rank}", "")),
}

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
    after their rows and after `unindex` took out what the rows held before: an article
    still scheduled is left out until `Articles.release_due` publishes it, so the index
    holds only what readers may find."""
    if not found:
        return
    articles_by_id = {a.id: a for a in found}  # an id twice in a batch: the last
    ids = list(articles_by_id)
    if conn.scalar(select(func.count()).where(search_docs.c.article_id.in_(ids))):
        # SQLite's index keeps no copy of the words it deletes (see `unindex`)
        raise RuntimeError("index() of articles still indexed: unindex them first")
    waiting = conn.scalars(
        select(articles.c.id).where(articles.c.id.in_(ids), articles.c.scheduled.is_(True))
    )
    for article_id in waiting:
        del articles_by_id[article_id]
    docids = _allocate(conn, list(articles_by_id.values()))
    # In key order, as both indexes are: FTS5 starts a new segment (and later merges it)
    # whenever a rowid is lower than the one before, which a batch in file order (dates
    # in any order) would make of nearly every article.
    ordered = sorted((docids[i], a) for i, a in articles_by_id.items())
    if not ordered:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(  # the vector column is PostgreSQL's own, outside the shared schema
                "INSERT INTO search_docs (docid, article_id, vector) "
                "VALUES (:docid, :article_id, CAST(:vector AS tsvector))"
            ),
            [
                {"docid": d, "article_id": a.id, "vector": document(a).tsvector()}
                for d, a in ordered
            ],
        )
        return
    conn.execute(search_docs.insert(), [{"docid": d, "article_id": a.id} for d, a in ordered])
    conn.execute(_FTS_INSERT, [_fts_row(d, a) for d, a in ordered])


# The FTS5 table is contentless (revision 0008): a row is deleted by giving its words again.
_FTS_INSERT = text(
    "INSERT INTO search_fts (rowid, headline, headings, body) VALUES (:docid, :h, :s, :b)"
)
_FTS_DELETE = text(
    "INSERT INTO search_fts (search_fts, rowid, headline, headings, body) "
    "VALUES ('delete', :docid, :h, :s, :b)"
)


def _fts_row(docid: int, article: Article) -> dict[str, Any]:
    headline, headings, body = document(article).columns()
    return {"docid": docid, "h": headline, "s": headings, "b": body}


def unindex(conn: Connection, article_ids: Sequence[str]) -> None:
    """Take articles out of the index: removed ones, and, before their rows are written
    again, changed ones (a restored one is indexed anew). On SQLite the words deleted are
    made again from the article rows as they stand, which are what was indexed: the
    FTS5 table keeps no copy of its own, which would cost more than the rest of it."""
    if not article_ids:
        return
    sqlite = conn.dialect.name != "postgresql"
    query = select(search_docs.c.docid, *([articles.c.body] if sqlite else [])).where(
        search_docs.c.article_id.in_(article_ids)
    )
    if sqlite:
        query = query.join(articles, articles.c.id == search_docs.c.article_id)
    rows = sorted(conn.execute(query).all())
    if not rows:
        return
    if sqlite:
        conn.execute(
            _FTS_DELETE, [_fts_row(r.docid, article_from_dict(json.loads(r.body))) for r in rows]
        )
    conn.execute(search_docs.delete().where(search_docs.c.docid.in_([r.docid for r in rows])))


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
    return _compile(parts, "AND", "OR", " NOT ", lambda form: '"' + " ".join(form) + '"')


def compile_tsquery(parts: Sequence[tuple[Part, Forms | None]]) -> str | None:
    """The ``tsquery`` text, or None when nothing can match."""
    return _compile(parts, "&", "|", " & !", lambda form: " <-> ".join(f"'{w}'" for w in form))


def _compile(
    parts: Sequence[tuple[Part, Forms | None]],
    and_: str,
    or_: str,
    but_not: str,
    phrase: Callable[[tuple[str, ...]], str],
) -> str | None:
    def either(forms: Forms) -> str:
        return "(" + f" {or_} ".join(phrase(f) for f in sorted(forms)) + ")"

    included = [forms for part, forms in parts if not part.exclude and forms is not None]
    if not included or not all(included):
        return None  # no term to look for, or one no article can hold
    found = "(" + f" {and_} ".join(either(f) for f in included) + ")"
    excluded = [either(forms) for part, forms in parts if part.exclude and forms]
    if excluded:
        found += but_not + "(" + f" {or_} ".join(excluded) + ")"
    return found


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
            params: dict[str, Any] = {
                "window": CANDIDATES,
                "match": match,
                "now": _seconds(now),
                "days": RECENCY_DAYS,
                "limit": limit,
                "offset": offset,
            }
            docids = list(conn.scalars(_QUERIES[postgres, newest], params))
            if not docids:
                return []
            rows = conn.execute(
                select(search_docs.c.docid, articles.c.body, articles.c.updated)
                .join(articles, articles.c.id == search_docs.c.article_id)
                .where(search_docs.c.docid.in_(docids))
            ).all()
        by_key = {r.docid: r for r in rows}
        return [
            Hit(Entry(article_from_dict(json.loads(by_key[d].body)), by_key[d].updated))
            for d in docids
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


def _clear(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('delete-all')"))
    conn.execute(search_docs.delete())
