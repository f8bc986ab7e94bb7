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
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from typing import Any

from sqlalchemy import Connection, Text, TextualSelect, func, select, text

from feedbot.articles.model import Article, Entry, article_from_dict
from feedbot.search.query import Forms, Part, Query
from feedbot.search.words import document
from feedbot.store.engine import Database, set_state
from feedbot.store.schema import UtcDateTime, articles, search_docs

__all__ = ["RECENCY_DAYS", "WORDS_VERSION", "Hit", "Search", "index"]

log = logging.getLogger("feedbot.search")

RECENCY_DAYS = 30
#: Changes when the words an article is found by change: then the index is rebuilt.
WORDS_VERSION = f"1 PyStemmer {version('PyStemmer')}"
WORDS_KEY = "search_words"
_BACKFILL_BATCH = 500

_SQLITE = """
    SELECT a.body, a.updated FROM search_fts
    JOIN search_docs d ON d.docid = search_fts.rowid
    JOIN articles a ON a.id = d.article_id
    WHERE search_fts MATCH :match AND a.removed_at IS NULL AND a.scheduled = 0
    ORDER BY {rank} a.date DESC, a.seq DESC, a.id DESC
    LIMIT :limit OFFSET :offset
"""
_SQLITE_RANK = """-bm25(search_fts, 10.0, 4.0, 1.0)
             / (1 + max(0, julianday(:now) - julianday(a.date)) / :days) DESC,"""
_POSTGRES = """
    SELECT a.body, a.updated FROM search_docs d
    JOIN articles a ON a.id = d.article_id, CAST(:match AS tsquery) q
    WHERE d.vector @@ q AND a.removed_at IS NULL AND a.scheduled = false
    ORDER BY {rank} a.date DESC, a.seq DESC, a.id COLLATE "C" DESC
    LIMIT :limit OFFSET :offset
"""
_POSTGRES_RANK = """ts_rank('{{0.1, 0.1, 0.4, 1.0}}', d.vector, q)
             / (1 + greatest(0, extract(epoch FROM CAST(:now AS timestamptz)
                                       - CAST(a.date AS timestamptz))) / 86400 / :days) DESC,"""


def _query(template: str, rank: str) -> TextualSelect:
    return text(template.format(rank=rank)).columns(body=Text, updated=UtcDateTime)


# (dialect is PostgreSQL, newest first) → the statement
_QUERIES = {
    (False, False): _query(_SQLITE, _SQLITE_RANK),
    (False, True): _query(_SQLITE, ""),
    (True, False): _query(_POSTGRES, _POSTGRES_RANK.replace("{{", "{").replace("}}", "}")),
    (True, True): _query(_POSTGRES, ""),
}


@dataclass(frozen=True, slots=True)
class Hit:
    """One article found, in rank order."""

    entry: Entry

    @property
    def article(self) -> Article:
        return self.entry.article


def index(conn: Connection, found: Sequence[Article]) -> None:
    """Write the search words of ``found`` (new or changed), in the caller's transaction."""
    if not found:
        return
    found = list({a.id: a for a in found}.values())  # an id twice in a batch: the last
    if conn.dialect.name == "postgresql":
        rows = [{"article_id": a.id, "vector": document(a).tsvector()} for a in found]
        conn.execute(  # the vector column is PostgreSQL's own, outside the shared schema
            text(
                "INSERT INTO search_docs (article_id, vector) "
                "VALUES (:article_id, CAST(:vector AS tsvector)) "
                "ON CONFLICT (article_id) DO UPDATE SET vector = excluded.vector"
            ),
            rows,
        )
        return
    ids = [a.id for a in found]
    docids = dict(
        conn.execute(
            select(search_docs.c.article_id, search_docs.c.docid).where(
                search_docs.c.article_id.in_(ids)
            )
        ).all()
    )
    old = [{"docid": d} for d in docids.values()]
    if old:
        conn.execute(text("DELETE FROM search_fts WHERE rowid = :docid"), old)
    new = [i for i in ids if i not in docids]
    if new:  # numbered here: one writer (SQLite), and one INSERT for the batch
        start = int(conn.scalar(select(func.coalesce(func.max(search_docs.c.docid), 0))) or 0)
        numbered = {article_id: start + n for n, article_id in enumerate(new, 1)}
        conn.execute(
            search_docs.insert(), [{"docid": d, "article_id": a} for a, d in numbered.items()]
        )
        docids.update(numbered)
    rows = []
    for article in found:
        headline, headings, body = document(article).columns()
        rows.append({"docid": docids[article.id], "h": headline, "s": headings, "b": body})
    conn.execute(
        text(
            "INSERT INTO search_fts (rowid, headline, headings, body) VALUES (:docid, :h, :s, :b)"
        ),
        rows,
    )


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
    """Queries the index; keeps it complete (`backfill`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
            languages = self._languages(conn)
            parts = query.variants(languages)
            postgres = conn.dialect.name == "postgresql"
            match = compile_tsquery(parts) if postgres else compile_fts5(parts)
            if match is None:
                return []
            params: dict[str, Any] = {
                "match": match,
                "now": now.isoformat(),
                "days": RECENCY_DAYS,
                "limit": limit,
                "offset": offset,
            }
            rows = conn.execute(_QUERIES[postgres, newest], params).all()
        return [Hit(Entry(article_from_dict(json.loads(r.body)), r.updated)) for r in rows]

    def _languages(self, conn: Connection) -> list[str]:
        query = select(articles.c.language).distinct().where(articles.c.removed_at.is_(None))
        return [row[0] for row in conn.execute(query)]

    def backfill(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Index every article the index lacks (after an upgrade, or when the words
        changed: `WORDS_VERSION`); the number indexed. Runs in batches; safe beside a
        running writer (each batch is one transaction)."""
        done = 0
        with self._db.write() as conn:
            if self._db.get_state(WORDS_KEY) != WORDS_VERSION:
                _clear(conn)
                set_state(conn, WORDS_KEY, WORDS_VERSION)
        missing = (
            select(articles.c.body)
            .where(~select(1).where(search_docs.c.article_id == articles.c.id).exists())
            .limit(_BACKFILL_BATCH)
        )
        with self._db.read() as conn:
            total = conn.scalar(
                select(func.count())
                .select_from(articles)
                .where(~select(1).where(search_docs.c.article_id == articles.c.id).exists())
            )
        shown = time.monotonic()
        while True:
            with self._db.write() as conn:
                batch = [article_from_dict(json.loads(r.body)) for r in conn.execute(missing)]
                index(conn, batch)
            done += len(batch)
            last = len(batch) < _BACKFILL_BATCH
            if progress is not None and done and (last or time.monotonic() - shown > 2):
                progress(done, max(done, int(total or 0)))
                shown = time.monotonic()
            if last:
                return done


def _clear(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(text("DELETE FROM search_fts"))
    conn.execute(search_docs.delete())
