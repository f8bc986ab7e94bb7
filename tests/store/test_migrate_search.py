"""Revision 0008 on a database at 0007 whose search index holds an article: on SQLite the
FTS5 table is made again without a copy of the words and the daemon's first scan indexes
the article anew; PostgreSQL's index is kept as it is."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from feedbot.articles.model import article_to_dict
from feedbot.articles.parse import parse
from feedbot.search.query import parse as query
from feedbot.store import Store
from tests.storekit import at_revision

NOW = "2026-11-20T09:00:00.000000+00:00"
ARTICLE = parse("001_a.txt", b"date 2026-03-01 La riforma\n\nIl governo approva il testo.\n")
BODY = json.dumps(article_to_dict(ARTICLE))


def at_0007(url: str) -> None:
    """The schema up to revision 0007, one article in it and in its search index."""
    with at_revision(url, "0007") as conn:
        conn.execute(
            text(
                "INSERT INTO articles (id, path, size, mtime_ns, content_hash, body, date, "
                "seq, headline, language, first_seen, published, updated, broadcast) VALUES "
                "('001_a', '001_a.txt', 1, 1, 'h', :body, :t, 1, 'La riforma', :lang, :t, :t, "
                ":t, true)"
            ),
            {"body": BODY, "t": NOW, "lang": ARTICLE.language},
        )
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("INSERT INTO search_docs VALUES (1, '001_a', CAST('riforma:1A' AS tsvector))")
            )
        else:
            conn.execute(text("INSERT INTO search_docs VALUES (1, '001_a')"))
            conn.execute(text("INSERT INTO search_fts (rowid, headline) VALUES (1, 'riforma')"))


def test_0008_rebuilds_the_sqlite_index_without_a_copy_of_the_words(
    database_url: str, tmp_path: Path
) -> None:
    at_0007(database_url)
    store = Store.open(tmp_path / "unused.sqlite3", url=database_url)
    try:
        assert store.db.position().current
        sqlite = store.db.dialect == "sqlite"
        with store.db.read() as conn:
            indexed = conn.execute(text("SELECT count(*) FROM search_docs")).scalar()
            if sqlite:
                made = text("SELECT sql FROM sqlite_master WHERE name = 'search_fts'")
                assert "content = ''" in conn.execute(made).scalar_one()
        assert indexed == (0 if sqlite else 1)  # SQLite: indexed again by the first scan
        assert store.articles.complete_search()
        now = datetime(2026, 12, 1, tzinfo=UTC)
        assert [h.article.id for h in store.search.find(query("riforma"), now)] == ["001_a"]
    finally:
        store.close()
