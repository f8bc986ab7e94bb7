"""The store against real SQLite files in tmp_path and a real PostgreSQL database (the
`store` fixture runs each test on both)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from feedbot.articles.model import Article
from feedbot.articles.parse import parse
from feedbot.errors import SchemaTooNewError, StoreError
from feedbot.store import SCHEMA_VERSION, FileRecord, Store, StoreSource
from feedbot.store.migrate import head, revisions
from tests import storekit
from tests.conftest import SEED
from tests.storekit import article_row, deliveries_for, remove

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def article(seq: int, date: str = "2022-01-14", headline: str = "Headline") -> Article:
    text = f"date {date} {headline} number {seq}.\n\nA first paragraph that says something.\n"
    return parse(f"{seq:03d}_{seq:016x}.txt", text.encode())


def add(
    store: Store, a: Article, *, now: datetime = NOW, broadcast: bool = True, **kw: object
) -> bool:
    return storekit.add(store, a, now, broadcast=broadcast, **kw)  # type: ignore[arg-type]


def test_open_creates_folder_wal_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "db.sqlite3"
    s = Store.open(path)
    try:
        assert path.is_file()
        assert s.db.schema_version() == SCHEMA_VERSION == len(revisions())
        raw = sqlite3.connect(path)
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"articles", "chats", "deliveries", "state", "schema_version"} <= tables
        assert raw.execute("SELECT version_num FROM alembic_version").fetchall() == [(head(),)]
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        raw.close()
    finally:
        s.close()
    Store.open(path).close()  # reopening migrates nothing and works


def test_too_new_schema_refused_without_changes(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    Store.open(path).close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE alembic_version SET version_num = '9999'")
    raw.commit()
    raw.close()
    before = path.read_bytes()
    with pytest.raises(SchemaTooNewError, match=r"schema 9999, written by a newer feedbot"):
        Store.open(path)
    assert path.read_bytes() == before
    wal = tmp_path / "db.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0  # a read-only look leaves no log


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    path.write_bytes(b"this is not sqlite at all, just text" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store.open(path)


def test_upsert_order_count_and_source(store: Store) -> None:
    src = StoreSource(store.articles)
    v0 = src.version()
    a1, a2, a3 = article(1, "2022-01-14"), article(2, "2022-01-14"), article(3, "2021-05")
    for a in (a3, a1, a2):
        assert add(store, a)
    assert src.version() != v0
    assert src.count() == 3
    assert [e.article.id for e in src.newest(0, 10)] == [a2.id, a1.id, a3.id]
    assert [e.article.id for e in src.newest(1, 1)] == [a1.id]
    got = src.get(a1.id)
    assert got is not None and got.article == a1 and got.updated == a1.date.value


def test_change_keeps_id_sets_updated_and_remove(store: Store) -> None:
    a = article(1)
    add(store, a)
    later = NOW + timedelta(hours=1)
    changed = article(1, headline="Another headline")
    version = store.articles.version
    assert not add(store, changed, now=later)
    assert store.articles.version != version
    e = store.articles.entry(a.id)
    assert e is not None and e.article.headline.startswith("Another") and e.updated == later
    row = article_row(store, a.id)
    assert row is not None and row["first_seen"] == NOW
    remove(store, a.id, later)
    assert store.articles.entry(a.id) is None and store.articles.count() == 0
    row = article_row(store, a.id)
    assert row is not None and row["removed_at"] == later
    # it comes back with the same content: restored, not re-dated, not new
    assert not add(store, changed, now=later + timedelta(hours=1))
    e = store.articles.entry(a.id)
    assert e is not None and e.updated == later


def test_broadcast_queues_deliveries_in_the_same_transaction(store: Store) -> None:
    store.chats.subscribe("100", kind="private", title=None)
    store.chats.subscribe("-200", kind="group", title="G")
    store.chats.subscribe("300", kind="private", title=None)
    store.chats.unsubscribe("300")
    base = article(1)
    add(store, base, broadcast=False)
    assert deliveries_for(store, base.id) == []
    new = article(2)
    add(store, new, channels=["@chan", "100"])
    rows = deliveries_for(store, new.id)
    assert [r["chat"] for r in rows] == ["-200", "100", "@chan"]
    assert all(r["status"] == "pending" for r in rows)
    row = article_row(store, new.id)
    assert row is not None and row["broadcast"] is True
    # a later subscriber does not get older articles
    store.chats.subscribe("400", kind="private", title=None)
    assert "400" not in [r["chat"] for r in deliveries_for(store, new.id)]


def test_failed_transaction_writes_nothing(store: Store) -> None:
    a, b = article(1), article(2)
    with pytest.raises(StoreError, match=r"(?i)not[- ]null"):
        store.articles.apply_changes(
            [FileRecord(a, "x.txt", 1, 1, "h"), FileRecord(b, "y.txt", None, 1, "h")],  # type: ignore[arg-type]
            [],
            NOW,
            broadcast=True,
        )
    assert store.articles.count() == 0 and article_row(store, a.id) is None


def test_delivery_lifecycle(store: Store) -> None:
    store.chats.subscribe("1", kind="private", title=None)
    store.chats.subscribe("2", kind="private", title=None)
    store.chats.set_chat_language("2", "it")
    a = article(1)
    add(store, a)
    claimed = store.outbox.claim_due(NOW, 10)
    assert [(d.chat, d.language) for d in claimed] == [("1", None), ("2", "it")]
    assert store.outbox.claim_due(NOW, 10) == []  # both are sending
    assert store.outbox.release_claims() == 2
    d1, d2 = store.outbox.claim_due(NOW, 10)
    store.outbox.record_progress(d1.id, [11])
    store.outbox.finish_many([(d1.id, [11, 12], NOW, None)])
    store.outbox.retry(d2.id, 1, NOW + timedelta(seconds=30), "timed out")
    assert store.outbox.claim_due(NOW, 10) == []
    (again,) = store.outbox.claim_due(NOW + timedelta(seconds=31), 10)
    assert again.attempts == 1
    store.outbox.fail(again.id, 2, "bad")
    stats = store.chats.stats()
    assert stats == {
        "subscribers": 2,
        "articles": 1,
        "deliveries_pending": 0,
        "deliveries_sending": 0,
        "deliveries_sent": 1,
        "deliveries_failed": 1,
    }
    rows = {r["chat"]: r for r in deliveries_for(store, a.id)}
    assert rows["1"]["message_ids"] == "[11, 12]" and rows["1"]["sent_at"] == NOW


def test_chat_gone_and_migrated(store: Store) -> None:
    store.chats.subscribe("-5", kind="group", title="old")
    store.chats.subscribe("7", kind="private", title=None)
    add(store, article(1))
    store.outbox.chat_migrated(0, "-5", "-1005")
    assert set(store.chats.subscribers()) == {"-1005", "7"}
    assert [r["chat"] for r in deliveries_for(store, article(1).id)] == ["-1005", "7"]
    store.outbox.chat_gone("7", "Forbidden: bot was blocked by the user")
    assert store.chats.subscribers() == ["-1005"]
    rows = {r["chat"]: r for r in deliveries_for(store, article(1).id)}
    assert rows["7"]["status"] == "failed"


def test_subscribe_twice_and_state(store: Store) -> None:
    assert store.chats.subscribe("1", kind="private", title=None)
    assert not store.chats.subscribe("1", kind="private", title=None)
    assert store.chats.unsubscribe("1") and not store.chats.unsubscribe("1")
    assert store.chats.subscribe("1", kind="private", title=None)
    assert store.db.get_state("k") is None
    store.db.set_state("k", "v")
    store.db.set_state("k", "w")
    assert store.db.get_state("k") == "w"


def test_seed_round_trips_through_the_store(store: Store) -> None:
    a = parse(str(SEED), SEED.read_bytes())
    add(store, a)
    e = store.articles.entry(a.id)
    assert e is not None and e.article == a


async def test_a_database_call_on_the_event_loop_thread_fails(store: Store) -> None:
    """Every statement checks its thread: one made on a loop's thread is refused."""
    with pytest.raises(StoreError, match="event loop thread"):
        store.chats.subscribers()
    chats = store.async_chats()
    assert await chats.subscribe("1", kind="private", title=None)
    assert (await chats.stats())["subscribers"] == 1
    assert await store.call(store.outbox.claim_due, NOW, 10) == []


async def test_the_async_parts_run_on_the_database_threads(store: Store) -> None:
    import threading

    seen = await store.call(lambda: threading.current_thread().name)
    assert seen.startswith("feedbot-db") and seen != threading.current_thread().name


def test_migration_keeps_a_row_in_flight_claimed(store: Store) -> None:
    """The row being sent follows the chat but stays ``sending``: the sender must not
    claim it again while its send to the new id is under way."""
    store.chats.subscribe("-5", kind="group", title="old")
    a = article(1)
    add(store, a)
    [claimed] = store.outbox.claim_due(NOW, 10)
    assert store.outbox.chat_migrated(claimed.id, "-5", "-1005")
    assert store.outbox.claim_due(NOW, 10) == []
    [row] = deliveries_for(store, a.id)
    assert (row["chat"], row["status"]) == ("-1005", "sending")


def _claim_all(path: str, url: str | None, start: float) -> list[int]:
    """In a process of its own: claim rows 5 at a time until none are due; their ids."""
    store = Store.open(Path(path), url=url)
    try:
        while time.time() < start:  # every worker begins at the same moment
            time.sleep(0.001)
        claimed: list[int] = []
        while batch := store.outbox.claim_due(NOW, 5):
            claimed += [d.id for d in batch]
        return claimed
    finally:
        store.close()


def test_processes_claiming_at_once_never_share_a_row(
    store: Store, engine: str, database_url: str, tmp_path: Path
) -> None:
    """Several processes (replicas, or a sender and a stale one) claiming together: each
    row is claimed exactly once (PostgreSQL runs READ COMMITTED: the claim must lock)."""
    for chat in range(400):
        store.chats.subscribe(str(chat), kind="private", title=None)
    add(store, article(1))
    url = None if engine == "sqlite" else database_url
    start = time.time() + 2.0
    spawn = multiprocessing.get_context("spawn")
    with spawn.Pool(4) as pool:
        results = pool.starmap(_claim_all, [(str(store.db.path or ""), url, start)] * 4)
    everything = [i for claimed in results for i in claimed]
    assert len(everything) == len(set(everything)) == 400


def test_a_database_written_by_feedbot_0_1_keeps_every_row(tmp_path: Path) -> None:
    """tests/data/feedbot-0.1.sqlite3 was written by the 0.1 store (before Alembic; commit
    13c6562): it is adopted as revision 0001, migrated, and every row is still there."""
    path = tmp_path / "old.sqlite3"
    path.write_bytes((Path(__file__).parents[1] / "data" / "feedbot-0.1.sqlite3").read_bytes())
    with sqlite3.connect(path) as raw:
        columns = {
            t: ", ".join(c[1] for c in raw.execute(f"PRAGMA table_info({t})"))
            for t in ("articles", "chats", "deliveries", "state")
        }
        before = {
            t: raw.execute(f"SELECT {cols} FROM {t} ORDER BY 1").fetchall()
            for t, cols in columns.items()
        }
    raw.close()
    assert all(before.values())
    s = Store.open(path)
    try:
        assert s.db.position().current and s.db.schema_version() == SCHEMA_VERSION
        with sqlite3.connect(path) as raw:
            for table, rows in before.items():
                query = f"SELECT {columns[table]} FROM {table} ORDER BY 1"  # later columns added
                assert raw.execute(query).fetchall() == rows
        raw.close()
        assert s.chats.subscribers() == ["-222", "111"] and s.chats.chat_language("111") == "it"
        # every subscribed chat became a subscription of the whole chat, in its language
        subs = {
            (x.chat, x.thread_id, x.language)
            for c in ("-222", "111")
            for x in s.subscriptions.of_chat(c)
        }
        assert subs == {("-222", 0, None), ("111", 0, "it")}
        assert s.articles.count() == 2 and s.db.get_state("baseline_done") is not None
        stats = s.chats.stats()
        assert (stats["deliveries_sent"], stats["deliveries_failed"]) == (1, 1)
        assert stats["deliveries_pending"] == 1
    finally:
        s.close()


def test_a_migrated_database_matches_the_schema_the_code_declares(store: Store) -> None:
    """Alembic's own comparison of the migrated database with `feedbot.store.schema`:
    a revision that forgets (or adds) a column or index fails here. The search objects of
    one engine only (`engine_specific`) are left out of the comparison."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from feedbot.store.schema import engine_specific, metadata

    def shared(_: object, name: str | None, *__: object) -> bool:
        return not engine_specific(name)

    with store.db.read() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": shared})
        diff = compare_metadata(context, metadata)
    assert diff == []


def test_shrink_caches_gives_back_every_idle_connection_s_cache(store: Store) -> None:
    """After a burst (the first scan of a cold start) each idle pooled SQLite connection
    gives its page cache back (``PRAGMA shrink_memory``) and serves on; none on PostgreSQL."""
    traced: list[str] = []

    def trace(dbapi: Any, record: Any, proxy: Any) -> None:
        if isinstance(dbapi, sqlite3.Connection):
            dbapi.set_trace_callback(traced.append)

    event.listen(store.db.engine, "checkout", trace)
    with store.db.read() as a, store.db.read() as b:  # two connections, both back after
        assert a.connection.dbapi_connection is not b.connection.dbapi_connection
    shrunk = store.shrink_caches()
    if store.db.dialect != "sqlite":
        assert shrunk == 0
        return
    idle = store.db.engine.pool.checkedin()  # type: ignore[attr-defined]
    assert shrunk == idle >= 2
    assert traced.count("PRAGMA shrink_memory") == shrunk
    assert store.db.get_state("absent") is None  # the shrunk connections serve on
