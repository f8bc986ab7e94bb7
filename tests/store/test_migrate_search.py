"""Revisions 0008 and 0009 on a database whose search index holds articles: on SQLite
(0008) the FTS5 table is made again without a copy of the words, on PostgreSQL (0009) the
marked words move out of the indexed vector; either way the index starts empty and the
daemon's first scan indexes the articles anew."""

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
        assert indexed == 0  # indexed again by the first scan (0008 on SQLite, 0009 on PostgreSQL)
        assert store.articles.complete_search()
        now = datetime(2026, 12, 1, tzinfo=UTC)
        assert [h.article.id for h in store.search.find(query("riforma"), now).entries] == ["001_a"]
    finally:
        store.close()


def test_0009_moves_postgresqls_marked_words_out_of_the_indexed_vector(
    database_url: str, tmp_path: Path
) -> None:
    """A PostgreSQL index at 0008 (the marked words in ``vector``) is emptied and made
    again in the new shape, and ranks as before: the article with the word in its
    headline first."""
    if not database_url.startswith("postgresql"):
        return  # SQLite: 0009 changes nothing
    text_only = parse("002_b.txt", b"date 2026-03-02 Il governo\n\nUna riforma del testo.\n")
    with at_revision(database_url, "0008") as conn:
        for n, article in enumerate((ARTICLE, text_only), 1):
            conn.execute(
                text(
                    "INSERT INTO articles (id, path, size, mtime_ns, content_hash, body, date, "
                    "seq, headline, language, first_seen, published, updated, broadcast) "
                    "VALUES (:id, :path, 1, 1, 'h', :body, :t, :n, :headline, :lang, :t, :t, "
                    ":t, true)"
                ),
                {
                    "id": article.id,
                    "path": f"{article.id}.txt",
                    "body": json.dumps(article_to_dict(article)),
                    "t": NOW,
                    "n": n,
                    "headline": article.headline,
                    "lang": article.language,
                },
            )
            conn.execute(  # the old shape: the marked words inside the indexed vector
                text("INSERT INTO search_docs VALUES (:n, :id, CAST(:v AS tsvector))"),
                {"n": n, "id": article.id, "v": "riform:1A \ue001riform:1A"},
            )
    store = Store.open(tmp_path / "unused.sqlite3", url=database_url)
    try:
        with store.db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM search_docs")).scalar() == 0
        assert store.articles.complete_search()
        with store.db.read() as conn:
            rows = conn.execute(text("SELECT vector::text, fields::text FROM search_docs")).all()
        assert len(rows) == 2
        assert all("\ue001" not in vector for vector, _ in rows)
        assert any("\ue001riform" in fields for _, fields in rows)
        now = datetime(2026, 12, 1, tzinfo=UTC)
        found = [h.article.id for h in store.search.find(query("riforma"), now).entries]
        assert found == [ARTICLE.id, text_only.id]  # the headline first, though older
    finally:
        store.close()
