"""Revision 0008 on a database at 0007: on SQLite the FTS5 table is made anew with the
``ascii`` tokenizer (and contentless), so a word SQLite's Unicode tables do not know is
found once the backfill has indexed it; on PostgreSQL nothing changes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from feedbot.articles.parse import parse
from feedbot.search.query import parse as query
from feedbot.store import Store
from feedbot.store.search import backfill
from tests.searchkit import NOW
from tests.storekit import add, at_revision

ODD = parse("001_a.txt", b"date 2026-03-01 Parole rare\n\nSi scrive \xe1\xa6\xb5\xe1\xa6\xb6.\n")


def test_0008_remakes_the_fts5_table_with_the_ascii_tokenizer(
    database_url: str, tmp_path: Path
) -> None:
    with at_revision(database_url, "0007"):
        pass
    store = Store.open(tmp_path / "unused.sqlite3", url=database_url)
    try:
        add(store, ODD, NOW)
        backfill(store.db, store.db.write)
        assert [h.article.id for h in store.search.find(query("ᦵᦶ"), NOW).entries] == [ODD.id]
        if store.db.dialect == "sqlite":
            with store.db.read() as conn:
                made = conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'search_fts'"))
            assert "tokenize = 'ascii'" in made
    finally:
        store.close()
