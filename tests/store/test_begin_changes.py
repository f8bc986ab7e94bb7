"""`Articles.begin_changes`: a batch written in two steps, the second of which writes
SQLite's search index rows and commits (a bulk scan runs it in a thread). Until then
nothing of the batch is seen; a failure in either step stores none of it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from feedbot.articles.parse import parse
from feedbot.search.query import parse as query
from feedbot.store import FileRecord, Store
from feedbot.store import articles as articles_module

NOW = datetime(2026, 12, 1, tzinfo=UTC)
ARTICLE = parse("001_a.txt", b"date 2026-03-01 La riforma\n\nIl governo approva il testo.\n")
OTHER = parse("002_b.txt", b"date 2026-03-02 Il raccolto\n\nUna stagione di pioggia.\n")


def found(store: Store, typed: str) -> list[str]:
    return [h.article.id for h in store.search.find(query(typed), NOW).entries]


def test_the_batch_is_seen_and_found_once_the_second_step_commits(store: Store) -> None:
    rec = FileRecord(ARTICLE, "001_a.txt", 1, 1, "h")
    finish = store.articles.begin_changes([rec], (), NOW, broadcast=False)
    assert store.articles.count() == 0 and found(store, "riforma") == []
    assert finish() == ["001_a"]
    assert store.articles.count() == 1 and found(store, "riforma") == ["001_a"]


def test_a_failed_second_step_stores_nothing_and_frees_the_database(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(conn: object, later: list[str]) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(articles_module, "write_later", fail)
    rec = FileRecord(ARTICLE, "001_a.txt", 1, 1, "h")
    finish = store.articles.begin_changes([rec], (), NOW, broadcast=False)
    with pytest.raises(OSError, match="disk gone"):
        finish()
    monkeypatch.undo()
    assert store.articles.count() == 0 and found(store, "riforma") == []
    other = FileRecord(OTHER, "002_b.txt", 1, 1, "h2")
    store.articles.apply_changes([other], (), NOW, broadcast=False)  # the lock is free
    assert found(store, "raccolto") == ["002_b"]


def test_an_article_indexed_and_removed_in_one_batch_leaves_no_words(store: Store) -> None:
    """Its words are written before they are taken out again (SQLite's index keeps no
    copy of them: taking out words it does not hold yet would leave them in for good)."""
    rec = FileRecord(ARTICLE, "001_a.txt", 1, 1, "h")
    store.articles.apply_changes([rec], [ARTICLE.id], NOW, broadcast=False)
    assert store.articles.count() == 0 and found(store, "riforma") == []
    if store.db.dialect == "sqlite":
        with store.db.read() as conn:
            match = "SELECT count(*) FROM search_fts WHERE search_fts MATCH 'riform'"
            assert conn.scalar(text(match)) == 0
