"""Full-text search in the database: SQLite FTS5 or PostgreSQL ``tsvector`` + GIN.

Neither engine tokenizes: both store the words `feedbot.search.words` made (FTS5 as
three columns, PostgreSQL as a weighted ``tsvector`` literal, GIN-indexed, and the marked
words of `feedbot.search.words.FIELD_MARKS` as a small one beside it) and receive the query as
the alternatives `feedbot.search.query.Query.variants` made, so one query finds the same
articles on both. `index` runs inside the transaction that writes the articles, so a
search never finds an article's old words after its edit commits; the index holds only
published articles (a scheduled one joins it when released, a removed one leaves it).

Searching it is `feedbot.store.finder`'s job; this module writes it and lays out its keys.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError

from feedbot.articles.model import Article, article_from_dict
from feedbot.errors import UnstorableError
from feedbot.search.words import IndexRow, document
from feedbot.store.engine import Database, set_state
from feedbot.store.schema import articles, search_docs

__all__ = [
    "MONTH_MARK",
    "SLOT_BITS",
    "WORDS_KEY",
    "WORDS_VERSION",
    "YEAR_MARK",
    "backfill",
    "date_of",
    "index",
    "merge",
    "month_of",
    "seconds",
    "span_marks",
    "unindex",
    "write_later",
]

log = logging.getLogger("feedbot.search")

#: Changes when the words an article is found by change: then the index is rebuilt.
WORDS_VERSION = f"4 PyStemmer {version('PyStemmer')}"
WORDS_KEY = "search_words"
_BACKFILL_BATCH = 500

#: Each article is also indexed by its month (`month_of`) behind this mark and by its
#: year behind the next: words no query can type, so that a search can ask the index for
#: the newest months first (PostgreSQL), or for no older than a date (both engines; see
#: `span_marks`).
MONTH_MARK = "\ue003"
YEAR_MARK = "\ue004"

# A document's key orders the index by date: the second of the article's date, shifted
# past `SLOT_BITS` bits that number the articles of one second (years 1-9999 fit in 63
# bits). Both engines read the newest matches first, by key, without a sort.
SLOT_BITS = 24
_EPOCH = int(datetime(1, 1, 1, tzinfo=UTC).timestamp())


def _base(article: Article) -> int:
    return seconds(article.date.value) << SLOT_BITS


def seconds(moment: datetime) -> int:
    """A moment as seconds since year 1 (a key's high bits)."""
    return int(moment.timestamp()) - _EPOCH


def index(
    conn: Connection,
    found: Sequence[Article],
    rows: Mapping[str, IndexRow] | None = None,
    *,
    later: list[str] | None = None,
) -> None:
    """Write the search words of ``found`` (new or changed), in the caller's transaction,
    after their rows and after `unindex` took out what the rows held before: an article
    still scheduled is left out until `Articles.release_due` publishes it, so the index
    holds only what readers may find. ``rows`` holds, by article id, index rows made
    beforehand (`feedbot.search.words.Document.row`, in this engine's form: a bulk scan
    makes them in another process); the others are made here.

    With ``later`` (SQLite), FTS5's rows are not written but added to it, for
    `write_later` to write before the transaction ends: FTS5's work on them, most of the
    index's cost, is then done in one statement, wherever the caller runs it."""
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
    made = rows or {}
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_INSERT, [_pg_row(d, a, made.get(a.id)) for d, a in ordered])
        return
    conn.execute(search_docs.insert(), [{"docid": d, "article_id": a.id} for d, a in ordered])
    fts = [_fts_row(d, a, made.get(a.id)) for d, a in ordered]
    if later is None:
        conn.execute(_FTS_INSERT, fts)
    else:
        rows_json = [[r["docid"], r["h"], r["s"], r["b"]] for r in fts]
        later.append(json.dumps(rows_json, ensure_ascii=False, separators=(",", ":")))


def write_later(conn: Connection, later: list[str]) -> None:
    """Write the FTS5 rows `index` left in ``later`` (SQLite), in the transaction that
    wrote the rest, and empty it. Each batch is one statement: SQLite runs it without
    Python's lock (a statement per row would take the lock back for every row, and wait
    for it whenever another thread holds it)."""
    for batch in later:
        conn.execute(_FTS_INSERT_JSON, {"rows": batch})
    later.clear()


# The FTS5 table is contentless (revision 0008): a row is deleted by giving its words again.
_FTS_INSERT = text(
    "INSERT INTO search_fts (rowid, headline, headings, body) VALUES (:docid, :h, :s, :b)"
)
_FTS_INSERT_JSON = text(
    "INSERT INTO search_fts (rowid, headline, headings, body) SELECT json_extract(value, "
    "'$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
    "json_extract(value, '$[3]') FROM json_each(:rows)"
)
_FTS_DELETE = text(
    "INSERT INTO search_fts (search_fts, rowid, headline, headings, body) "
    "VALUES ('delete', :docid, :h, :s, :b)"
)


def _fts_row(docid: int, article: Article, row: IndexRow | None = None) -> dict[str, Any]:
    """The article's three columns, its month and year marks at the end of the body."""
    if row is None or len(row) != 3:  # not made beforehand, or not for FTS5
        row = document(article).columns()
    headline, headings, body = row
    month = month_of(docid)
    dated = f"{body} {MONTH_MARK}{month} {YEAR_MARK}{month // 12}"
    return {"docid": docid, "h": headline, "s": headings, "b": dated}


# The vector and fields columns are PostgreSQL's own, outside the shared schema.
_PG_INSERT = text(
    "INSERT INTO search_docs (docid, article_id, vector, fields) "
    "VALUES (:docid, :article_id, CAST(:vector AS tsvector), CAST(:fields AS tsvector))"
)


def _pg_row(docid: int, article: Article, row: IndexRow | None = None) -> dict[str, Any]:
    """The article's words, month and year (`MONTH_MARK`, `YEAR_MARK`) as the GIN-indexed
    ``vector``; the
    marked copies of its headline's and headings' words as ``fields``, which no index
    holds: a search asks them only of its candidates (`feedbot.store.finder`), so they
    cost the index nothing."""
    if row is None or len(row) != 2:  # not made beforehand, or not for PostgreSQL
        row = document(article).row("postgresql")
    vector, fields = row
    month = month_of(docid)
    return {
        "docid": docid,
        "article_id": article.id,
        "vector": f"{vector} '{MONTH_MARK}{month}' '{YEAR_MARK}{month // 12}'",
        "fields": fields,
    }


def date_of(key: int) -> datetime:
    """The moment a key's high bits hold (its article's date, to the second)."""
    return datetime(1, 1, 1, tzinfo=UTC) + timedelta(seconds=key >> SLOT_BITS)


def month_of(key: int) -> int:
    """The month of a key's date, counted from year 1 (its year is ``month // 12``)."""
    day = date_of(key)
    return day.year * 12 + day.month - 1


def span_marks(first: int, last: int) -> list[str]:
    """The marks that together index every article of the months ``first`` to ``last``
    (`month_of`) and no other: a year's mark for each whole year between them, the
    months' own marks for the rest."""
    marks: list[str] = []
    month = first
    while month <= last:
        year = month // 12
        if month % 12 == 0 and (year + 1) * 12 - 1 <= last:
            marks.append(f"{YEAR_MARK}{year}")
            month += 12
        else:
            marks.append(f"{MONTH_MARK}{month}")
            month += 1
    return marks


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
        {"bases": bases if postgres else json.dumps(bases), "slot": 1 << SLOT_BITS},
    ).all()
    last = {int(base): base - 1 if top is None else int(top) for base, top in tops}
    keys = {}
    for article in articles:
        base = _base(article)
        last[base] += 1
        if last[base] >= base + (1 << SLOT_BITS):
            raise UnstorableError(f"more than {1 << SLOT_BITS} articles dated the same second")
        keys[article.id] = last[base]
    return keys


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
    """Tidy the index after writes; the number of steps, or None when ``stop`` said to
    stop first.

    SQLite: merge FTS5's index into one segment, as its 'optimize' command does, but in
    steps of `_MERGE_PAGES` pages, each in a short transaction of ``write``: after a bulk
    of writes (a cold scan, a backfill) the index is a stack of segments that every
    search reads term by term, and deleted words stay in them until merged. PostgreSQL:
    move GIN's pending list (where new entries wait, up to 4 MB) into the index proper,
    in one transaction: every search reads the whole list, and only a vacuum or an
    insert that finds it full would empty it."""
    steps, started = 0, time.monotonic()
    while True:
        if stop is not None and stop():
            return None
        with write() as conn:
            if conn.dialect.name == "postgresql":
                return _clean_pending(conn)
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


#: The databases (by URL, the password hidden) whose role may not clean the pending list:
#: said once each, then left to PostgreSQL's autovacuum.
_cannot_clean: set[str] = set()


def _clean_pending(conn: Connection) -> int:
    """Empty GIN's pending list (PostgreSQL): 1 step, or 0 when the database role may not
    (only the index's owner may; feedbot's role owns what its revisions made)."""
    database = conn.engine.url.render_as_string(hide_password=True)
    if database in _cannot_clean:
        return 0
    try:
        with conn.begin_nested():
            conn.execute(text("SELECT gin_clean_pending_list('search_docs_vector')"))
    except DBAPIError as e:
        if getattr(e.orig, "sqlstate", None) != "42501":  # insufficient_privilege
            raise
        _cannot_clean.add(database)
        log.warning(
            "search index: %s: its pending entries are left to PostgreSQL's autovacuum "
            "(searches read through them until then)",
            str(e.orig).splitlines()[0],
        )
        return 0
    return 1


def _clear(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('delete-all')"))
    conn.execute(search_docs.delete())
