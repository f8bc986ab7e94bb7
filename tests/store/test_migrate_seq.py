"""Revision 0006 on a database at 0005 that holds data: ``articles.seq`` holds 64 bits (a
timestamp file name) and every row is kept — on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import inspect, text

from feedbot.articles.parse import parse
from feedbot.store import FileRecord, Store
from tests.storekit import at_revision

NOW = "2026-11-20T09:00:00.000000+00:00"
STAMP = "20260301120000_bbbbbbbbbbbbbbbb"


def at_0005(url: str) -> None:
    """The schema up to revision 0005 only, holding two articles."""
    with at_revision(url, "0005") as conn:
        for seq, article_id in ((1, "001_a"), (2147483647, "2147483647_b")):
            conn.execute(
                text(
                    "INSERT INTO articles (id, path, size, mtime_ns, content_hash, body, date, "
                    "seq, headline, language, first_seen, published, updated, broadcast) VALUES "
                    "(:id, :path, 1, 1, 'h', '{}', :t, :seq, 'A', 'en', :t, :t, :t, true)"
                ),
                {"id": article_id, "path": f"{article_id}.txt", "seq": seq, "t": NOW},
            )


def test_0006_widens_the_sequence_number_and_keeps_every_row(
    database_url: str, tmp_path: Path
) -> None:
    at_0005(database_url)
    store = Store.open(tmp_path / "unused.sqlite3", url=database_url)
    try:
        assert store.db.position().current
        with store.db.read() as conn:
            kept = conn.execute(text("SELECT id, seq FROM articles ORDER BY id")).all()
            column = {c["name"]: c for c in inspect(conn).get_columns("articles")}["seq"]
        assert [tuple(r) for r in kept] == [("001_a", 1), ("2147483647_b", 2147483647)]
        if store.db.dialect == "postgresql":
            assert str(column["type"]) == "BIGINT"
        article = parse(f"{STAMP}.txt", b"date 2026-03-01 A timestamp name\n\nA paragraph.\n")
        record = FileRecord(article, f"{STAMP}.txt", 10, 10, "x")
        store.articles.apply_changes([record], (), datetime.now(UTC), broadcast=False)
        assert store.articles.known_files()[f"{STAMP}.txt"].article_id == STAMP
        with store.db.read() as conn:
            seq = conn.execute(text("SELECT seq FROM articles WHERE id = :id"), {"id": STAMP})
            assert seq.scalar() == 20260301120000
    finally:
        store.close()
