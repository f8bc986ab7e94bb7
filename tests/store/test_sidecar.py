"""A sidecar store: chats and ledgers in a SQLite file of their own, over the articles of a
main store (SQLite or PostgreSQL) that it reads and never writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from feedbot.articles.model import Article
from feedbot.articles.parse import parse
from feedbot.errors import StoreError
from feedbot.store import Publishing, Store
from feedbot.store.schema import deliveries
from feedbot.store.sidecar import ArticleState, Sidecar
from tests.storekit import add, deliveries_for, remove

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def article(n: int, text: str = "Rivers rise") -> Article:
    return parse(
        f"{n:03d}_aaaabbbbccccdddd.txt", f"date 2026-11-{n:02d} {text}\n\nBody {n}.\n".encode()
    )


@pytest.fixture
def sidecar(store: Store, tmp_path: Path) -> Iterator[Sidecar]:
    s = Sidecar.open(tmp_path / "side" / "playground.sqlite3", store)
    yield s
    s.close()


def _rows(s: Sidecar) -> list[dict[str, object]]:
    with s.store.db.read() as conn:
        return [
            dict(r._mapping) for r in conn.execute(select(deliveries).order_by(deliveries.c.id))
        ]


def test_it_reads_the_main_articles_and_never_writes_them(store: Store, sidecar: Sidecar) -> None:
    a = article(1)
    add(store, a, NOW)
    side = sidecar.store
    assert [e.article.id for e in side.articles.newest(0, 10)] == [a.id]
    with pytest.raises(StoreError, match="read only"):
        side.articles.apply_changes([], [a.id], NOW, broadcast=False)
    [(found, state)] = sidecar.states()
    assert found == a.id and state == ArticleState(state.content_hash, "live")
    remove(store, a.id, NOW)
    assert list(sidecar.states()) == [(a.id, ArticleState(state.content_hash, "removed"))]


def test_posts_and_corrections_go_to_its_own_chats_only(store: Store, sidecar: Sidecar) -> None:
    a = article(2)
    add(store, a, NOW)
    side = sidecar.store
    side.chats.subscribe("7001", kind="private", title="You", now=NOW)
    queued = sidecar.take_in([a.id], (), (), NOW, Publishing(channels=("@news",)))
    assert queued == 1
    assert [(r["chat"], r["article_id"]) for r in _rows(sidecar)] == [
        ("7001", a.id),
        ("@news", a.id),
    ]
    assert deliveries_for(store, a.id) == []
    [d] = side.outbox.claim_due(NOW, 1)
    side.outbox.finish_many([(d.id, [5], NOW, "x")])
    sidecar.take_in([], [a.id], (), NOW, Publishing())
    [edit] = side.edits.claim_due(NOW + timedelta(minutes=1), 5)
    entry, removed = side.edits.article(edit.article_id) or (None, True)
    assert entry is not None and entry.article.id == a.id and not removed


def test_stats_and_digests_count_the_main_articles(store: Store, sidecar: Sidecar) -> None:
    for n in (3, 4):
        add(store, article(n, f"Story {n}"), NOW)
    side = sidecar.store
    side.chats.subscribe("7001", kind="private", title="You", now=NOW)
    assert side.chats.stats()["articles"] == 2
    side.subscriptions.update(
        "7001",
        0,
        None,
        mode="digest",
        digest="daily 08:00",
        next_digest_at=NOW - timedelta(hours=1),
    )
    queued = side.digests.queue_due(NOW, lambda sub, now: now + timedelta(days=1))
    assert queued == 1
    [row] = _rows(sidecar)
    assert row["kind"] != "post" and len(json.loads(str(row["payload"]))) == 2
