"""Hostile queries on both engines (issue 19, "Bad input"), property-tested: for every
query that parses, SQLite and PostgreSQL find the same set of articles; a search only
ever reads (nothing written, by the statements sent or by what the databases hold); and
the statements sent are fixed ones, chosen by the number of terms, with only the match
texts varying."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import example, given, settings
from sqlalchemy import event, text

from feedbot.articles.parse import parse
from feedbot.search.query import MAX_QUERY_TERMS, Query, QueryError
from feedbot.search.query import parse as parse_query
from feedbot.store import Store
from tests.conftest import SEED
from tests.pgserver import Server, fresh_database
from tests.searchkit import CORPUS, HOSTILE, NOW, sized
from tests.storekit import add

pytestmark = pytest.mark.postgresql


class Engines:
    """The corpus on SQLite and on PostgreSQL, and the statements each was sent."""

    def __init__(self, sqlite: Store, postgres: Store, sqlite_path: Path) -> None:
        self.sqlite, self.postgres, self.sqlite_path = sqlite, postgres, sqlite_path
        self.sent: list[tuple[str, Any]] = []
        for store in (sqlite, postgres):
            event.listen(store.db.engine, "before_cursor_execute", self._sent)

    def _sent(self, conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        self.sent.append((statement, params))


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory, pg_server: Server) -> Iterator[Engines]:
    tmp = tmp_path_factory.mktemp("hostile")
    corpus = [*CORPUS, parse(SEED.name, SEED.read_bytes())]
    with fresh_database(pg_server) as url:
        sqlite = Store.open(tmp / "a.sqlite3")
        postgres = Store.open(tmp / "unused", url=url)
        try:
            for store in (sqlite, postgres):
                for article in corpus:
                    add(store, article, NOW)
            yield Engines(sqlite, postgres, tmp / "a.sqlite3")
        finally:
            sqlite.close()
            postgres.close()


def found(store: Store, query: Query, newest: bool = False) -> set[str]:
    return {
        hit.article.id for hit in store.search.find(query, NOW, limit=100, newest=newest).entries
    }


def _postgres_state(store: Store) -> list[tuple[str, int, int]]:
    """Every table's row count and newest row version (``max(xmin)``): an insert or an
    update makes a newer version, a delete lowers the count."""
    with store.db.read() as conn:
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).all()
        return [
            (
                table,
                *conn.execute(
                    text(f'SELECT count(*), coalesce(max(xmin::text::bigint), 0) FROM "{table}"')
                ).one(),
            )
            for table in tables
        ]


@contextmanager
def nothing_written(engines: Engines) -> Iterator[None]:
    """(c) Fails when the block writes: SQLite's ``data_version`` seen from another
    connection (it changes when any other connection commits), PostgreSQL's row versions,
    and every statement the block sent is a read."""
    with closing(sqlite3.connect(engines.sqlite_path)) as watcher:
        version = watcher.execute("PRAGMA data_version").fetchone()
        before = _postgres_state(engines.postgres)
        engines.sent.clear()
        yield
        sent = list(engines.sent)
        assert watcher.execute("PRAGMA data_version").fetchone() == version
    assert _postgres_state(engines.postgres) == before
    for statement, _ in sent:  # BEGIN: SQLite's read transaction (a write is IMMEDIATE)
        assert statement.split()[0] in ("SELECT", "WITH") or statement == "BEGIN", statement


#: The keys of the search statements' parameters: the newest matches' (``match``,
#: ``window``, ``below``) and the fields' (``lo`` or ``keys``, one match per term and field).
PARAMS = {"window", "match", "below", "floor", "lo", "keys"}
PARAMS |= {f"m{n}" for n in range(2 * MAX_QUERY_TERMS)}
#: The newest matches (one per engine), and the fields of 1 to MAX_QUERY_TERMS terms: on
#: PostgreSQL in the read of the newest, on SQLite by key for few candidates, else from
#: the oldest one.
SHAPES = 2 + 3 * MAX_QUERY_TERMS
STATEMENTS: set[str] = set()


@settings(HOSTILE, max_examples=120)  # a search on each engine costs a few ms
@given(sized())
@example("𝐑𝐨𝐦𝐚")  # FTS5 lowercased what folding left uppercase
@example("ᦵᦶᦷ")  # letters to Python, not to SQLite's older Unicode tables
def test_both_engines_find_the_same_set_and_write_nothing(engines: Engines, typed: str) -> None:
    try:
        query = parse_query(typed)
    except QueryError:
        return
    with nothing_written(engines):
        on_sqlite, on_postgres = found(engines.sqlite, query), found(engines.postgres, query)
        assert on_sqlite == on_postgres, (query.text, on_sqlite, on_postgres)  # (b)
        hypothesis.event("found articles" if on_sqlite else "found none")
        assert found(engines.sqlite, query, True) == found(engines.postgres, query, True)
        searches = [(s, p) for s, p in engines.sent if "MATCH" in s or "@@" in s]
    # (e) the statements are fixed ones, chosen by the number of terms whatever was typed;
    # only the match texts vary (bounded in tests/search/test_hostile.py)
    for statement, params in searches:
        STATEMENTS.add(statement)
        assert len(params) <= len(PARAMS) and (
            not isinstance(params, dict) or set(params) <= PARAMS
        )
    assert len(STATEMENTS) <= SHAPES


@pytest.mark.parametrize("which", ["sqlite", "postgresql"])
@pytest.mark.parametrize("value", ["new", "updated"])
def test_the_write_check_sees_any_write(engines: Engines, which: str, value: str) -> None:
    """The check above is not vacuous: an insert, then an update, of one state row on
    either engine fails it by what the database holds (the statements sent are
    forgotten, so that only the databases can tell)."""
    store = engines.sqlite if which == "sqlite" else engines.postgres
    with pytest.raises(AssertionError), nothing_written(engines):
        store.db.set_state("hostile_probe", value)
        engines.sent.clear()
