"""Databases written by other feedbots: one from the release before the store split
(tests/data/release-13c6562.sqlite3, written by that commit's store; see
tests/data/make_release_db.py) keeps every row; one from a newer feedbot is refused
before anything is written — on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from feedbot.errors import SchemaTooNewError
from feedbot.store import Store
from feedbot.store.copy import COPIED, copy_database
from tests.conftest import ROOT

RELEASE = ROOT / "tests" / "data" / "release-13c6562.sqlite3"
TABLES = ("articles", "chats", "deliveries", "state")


def raw_rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as SQLite stores it, bypassing our code: the columns the
    release had (later revisions add columns)."""
    with sqlite3.connect(RELEASE) as release:
        columns = {
            t: ", ".join(c[1] for c in release.execute(f"PRAGMA table_info({t})")) for t in TABLES
        }
    release.close()
    with sqlite3.connect(path) as conn:
        return {
            t: conn.execute(f"SELECT {columns[t]} FROM {t} ORDER BY 1, 2").fetchall()
            for t in TABLES
        }


@pytest.fixture
def release_copy(tmp_path: Path) -> Path:
    path = tmp_path / "feedbot.sqlite3"
    shutil.copyfile(RELEASE, path)
    return path


def test_a_release_database_keeps_every_row(release_copy: Path) -> None:
    before = raw_rows(release_copy)
    assert len(before["deliveries"]) == 24 and len(before["articles"]) == 7
    store = Store.open(release_copy)
    try:
        assert store.articles.count() == 6  # one was removed
        known = store.articles.known_files()
        assert min(k.mtime_ns for k in known.values()) > 2**32  # 64-bit values read back
        for name, k in known.items():
            entry = store.articles.entry(k.article_id)
            assert entry is not None and entry.article.id == name.removesuffix(".txt")
        assert store.chats.subscribers() == ["-202", "101", "303"]
        assert store.chats.chat_language("303") == "it"
        assert store.db.get_state("telegram.offset") == "424242"
        assert store.outbox.release_claims() == 2  # the release's crashed claims resume
        due = store.outbox.claim_due(datetime(2100, 1, 1, tzinfo=UTC), 100)
        assert len(due) == 19 and any(d.message_ids == (77,) for d in due)
    finally:
        store.close()
    after = raw_rows(release_copy)
    sending = {r[0] for r in before["deliveries"] if r[3] == "sending"}
    due_ids = {d.id for d in due} | sending
    untouched = [r for r in before["deliveries"] if r[0] not in due_ids]
    assert [r for r in after["deliveries"] if r[0] not in due_ids] == untouched
    assert len(after["deliveries"]) == len(before["deliveries"])
    for table in ("articles", "chats", "state"):
        assert after[table] == before[table], table


@pytest.mark.postgresql
def test_a_release_database_moves_to_postgresql(
    release_copy: Path, new_pg_database: Callable[..., str]
) -> None:
    source = Store.open(release_copy)
    target = Store.open(Path(), url=new_pg_database())
    try:
        copy_database(source.db, target.db)
        for table in COPIED:
            query = table.select().order_by(*table.primary_key)
            with source.db.read() as a, target.db.read() as b:
                assert a.execute(query).all() == b.execute(query).all(), table.name
    finally:
        source.close()
        target.close()


def test_a_newer_database_is_refused_before_anything_is_written(
    engine: str, database_url: str, tmp_path: Path
) -> None:
    """A future feedbot's database: only its version row (its tables are unknown to us)."""
    raw = create_engine(database_url)
    with raw.begin() as conn:
        conn.execute(text("CREATE TABLE schema_version (version INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO schema_version VALUES (99)"))
    raw.dispose()
    with pytest.raises(SchemaTooNewError, match="schema_version 99"):
        Store.open(tmp_path / "feedbot.sqlite3", url=None if engine == "sqlite" else database_url)
    raw = create_engine(database_url)
    with raw.connect() as conn:
        assert inspect(conn).get_table_names() == ["schema_version"]
        assert conn.execute(text("SELECT version FROM schema_version")).all() == [(99,)]
    raw.dispose()
    if engine == "sqlite":
        assert not (tmp_path / "feedbot.sqlite3-wal").exists()  # not even WAL mode was set
