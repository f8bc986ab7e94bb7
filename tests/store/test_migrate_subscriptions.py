"""Revision 0004 on a database at 0003 that holds data: every subscribed chat becomes a
subscription of the whole chat in its language, every delivery row is kept (id,
status, times) as a post to thread 0 — on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from feedbot.store import Store
from tests.storekit import at_revision

NOW = "2026-11-20T09:00:00.000000+00:00"


def _at_0003(url: str) -> None:
    """Create the schema up to revision 0003 only, and fill it like a running bot."""
    with at_revision(url, "0003") as conn:
        conn.execute(
            text(
                "INSERT INTO articles (id, path, size, mtime_ns, content_hash, body, date, seq, "
                "headline, language, first_seen, published, updated, broadcast) VALUES "
                "('a1', 'a1.txt', 1, 1, 'h', '{}', :t, 1, 'A', 'en', :t, :t, :t, true)"
            ),
            {"t": NOW},
        )
        chats = [
            ("111", "private", "it", True),
            ("-222", "group", None, True),
            ("333", "private", "en", False),
        ]
        for cid, kind, lang, sub in chats:
            conn.execute(
                text(
                    "INSERT INTO chats (id, type, language, subscribed, subscribed_at) "
                    "VALUES (:id, :type, :lang, :sub, :t)"
                ),
                {"id": cid, "type": kind, "lang": lang, "sub": sub, "t": NOW},
            )
        for i, (cid, status) in enumerate([("111", "sent"), ("-222", "pending")], 1):
            conn.execute(
                text(
                    "INSERT INTO deliveries (id, article_id, chat, status, attempts, "
                    "next_attempt_at, message_ids, created_at) "
                    "VALUES (:id, 'a1', :chat, :status, 1, :t, '[7]', :t)"
                ),
                {"id": 40 + i, "chat": cid, "status": status, "t": NOW},
            )


def _deliveries(store: Store) -> list[tuple[Any, ...]]:
    with store.db.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT id, chat, status, attempts, message_ids, thread_id, kind "
                    "FROM deliveries ORDER BY id"
                )
            )
        ]


def test_0004_keeps_every_row_and_subscribes_each_subscribed_chat(
    database_url: str, tmp_path: Path
) -> None:
    _at_0003(database_url)
    store = Store.open(tmp_path / "unused.sqlite3", url=database_url)
    try:
        assert store.db.position().current
        assert store.chats.subscribers() in (["-222", "111"], ["111", "-222"])
        assert [(s.thread_id, s.language, s.mode) for s in store.subscriptions.of_chat("111")] == [
            (0, "it", "instant")
        ]
        assert [(s.thread_id, s.language) for s in store.subscriptions.of_chat("-222")] == [
            (0, None)
        ]
        assert store.subscriptions.of_chat("333") == []  # not subscribed: no subscription
        assert _deliveries(store) == [
            (41, "111", "sent", 1, "[7]", 0, "post"),
            (42, "-222", "pending", 1, "[7]", 0, "post"),
        ]
        # the kept row is still claimable, and new rows get fresh ids after the old ones
        [due] = store.outbox.claim_due(datetime(2100, 1, 1, tzinfo=UTC), 10)
        assert (due.id, due.chat, due.thread_id, due.kind) == (42, "-222", 0, "post")
        store.chats.subscribe("111", kind="private", title=None, thread_id=5)
        assert [s.thread_id for s in store.subscriptions.of_chat("111")] == [0, 5]
    finally:
        store.close()
