"""The leader lease and the fence, on both engines (in-process; replicas as processes are
in test_replicas.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from feedbot.articles.model import ArticleDate, DatePrecision
from feedbot.cluster.leader import Leadership
from feedbot.config import ClusterSettings
from feedbot.errors import FencedError
from feedbot.store import Lease, Store
from tests.store.test_store import article
from tests.storekit import add, deliveries_for, remove
from tests.waiting import until


@pytest.fixture
def second(store: Store, database_url: str, engine: str, tmp_path: Path) -> Iterator[Store]:
    """Another replica's store on the same database."""
    url = None if engine == "sqlite" else database_url
    other = Store.open(tmp_path / "feedbot.sqlite3", url=url)
    yield other
    other.close()


def test_one_holder_and_a_growing_epoch(store: Store, second: Store) -> None:
    a, b = Lease(store.db), Lease(second.db)
    assert a.view().holder is None
    assert a.acquire("a", 0.3) == 1
    assert b.acquire("b", 0.3) is None  # held and not expired
    assert a.renew("a", 1, 0.3)
    assert not a.renew("a", 2, 0.3)  # not our epoch
    view = b.view()
    assert view.holder == "a" and view.epoch == 1 and view.live and view.age is not None
    until(lambda: not b.view().live, interval=0.01)
    assert not a.renew("a", 1, 0.3)  # expired: renewing cannot bring it back
    assert b.acquire("b", 5.0) == 2
    assert a.acquire("a", 5.0) is None
    b.release("b", 2)
    assert a.acquire("a", 5.0) == 3  # released: taken at once


def test_every_ledger_write_is_fenced_after_a_takeover(store: Store, second: Store) -> None:
    now = datetime.now(UTC)
    store.chats.subscribe("1", kind="private", title=None)
    add(store, article(1), now, broadcast=False)
    add(store, article(2), now)
    soon = ArticleDate(now + timedelta(hours=1), DatePrecision.INSTANT)
    add(store, replace(article(4), date=soon), now)  # scheduled: published in an hour
    [delivery] = store.outbox.claim_due(now, 10)
    old = Lease(store.db)
    epoch = old.acquire("old", 0.3)
    assert epoch is not None
    store.fence.arm()
    store.fence.hold("old", epoch)
    store.outbox.record_progress(delivery.id, [1])  # still ours: allowed
    until(lambda: not old.view().live, interval=0.01)
    assert Lease(second.db).acquire("new", 30.0) == epoch + 1
    outbox, edits = store.outbox, store.edits
    later = now + timedelta(seconds=5)
    writes = [
        lambda: outbox.claim_due(now, 10),
        lambda: outbox.release_claims(),
        lambda: outbox.record_progress(delivery.id, [1, 2]),
        lambda: outbox.finish_many([(delivery.id, [1, 2], now, None)]),
        lambda: outbox.retry(delivery.id, 1, later, "x"),
        lambda: outbox.fail(delivery.id, 1, "x"),
        lambda: outbox.chat_gone("1", "x"),
        lambda: outbox.chat_migrated(delivery.id, "1", "-100"),
        lambda: add(store, article(3), now),
        # the corrections ledger and scheduled publication (`feedbot.store.edits`)
        lambda: edits.claim_due(later, 10),
        lambda: edits.release_claims(),
        lambda: edits.record_messages(delivery.id, [1, 2], "x"),
        lambda: edits.finish(delivery.id, 1, [1, 2], "x"),
        lambda: edits.retry(delivery.id, 1, later, "x"),
        lambda: edits.fail(delivery.id, 1, "x"),
        lambda: remove(store, article(2).id, now),  # would owe a withdrawal
        lambda: store.articles.release_due(now + timedelta(days=3650)),
    ]
    for write in writes:
        with pytest.raises(FencedError):
            write()
    [row] = deliveries_for(store, article(2).id)
    assert row["status"] == "sending" and row["message_ids"] == "[1]"  # nothing changed
    assert store.articles.count() == 2
    store.fence.drop()
    with pytest.raises(FencedError, match="not the leader"):
        outbox.release_claims()


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_takeover_waits_for_the_write_in_flight(store: Store, second: Store) -> None:
    """The fence share-locks the lease row: a take-over queues behind a fenced write
    and every write after it sees the new holder."""
    lease = Lease(store.db)
    epoch = lease.acquire("old", 0.5)
    assert epoch is not None
    store.fence.arm()
    store.fence.hold("old", epoch)
    took: list[int | None] = []
    with store.db.write() as conn:
        store.fence.check(conn)  # a write under way, lease row share-locked
        until(lambda: not Lease(second.db).view().live, interval=0.01)
        thief = threading.Thread(target=lambda: took.append(Lease(second.db).acquire("new", 30)))
        thief.start()
        until(lambda: waiting_on_a_lock(second) == 1, interval=0.01)
        assert not took
    thief.join(10)
    assert took == [epoch + 1]


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_a_takeover_ends_the_sessions_of_a_paused_leader(store: Store, second: Store) -> None:
    """A leader frozen half-way through a write keeps the lease row locked; once the
    lease expired, the next replica ends that session instead of waiting for ever."""
    lease = Lease(store.db)
    epoch = lease.acquire("old", 0.3)
    assert epoch is not None
    store.fence.arm()
    store.fence.hold("old", epoch)
    conn = store.db.engine.connect()
    frozen = conn.begin()
    store.fence.check(conn)  # and then the process stops
    until(lambda: not Lease(second.db).view().live, interval=0.01)
    started = time.monotonic()
    assert Lease(second.db).acquire("new", 30.0) == epoch + 1
    assert time.monotonic() - started < 4.0  # well before the idle-in-transaction timeout
    with pytest.raises(Exception, match=r"terminat|closed|connection"):
        frozen.commit()
    conn.invalidate()
    conn.close()


def waiting_on_a_lock(store: Store) -> int:
    from sqlalchemy import text

    with store.db.read() as conn:
        query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        return int(conn.scalar(text(query + " AND datname = current_database()")) or 0)


def cluster(**values: float) -> ClusterSettings:
    return ClusterSettings(replica_name="me", **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_sqlite_leads_alone(store: Store) -> None:
    leadership = Leadership(store, cluster(), CollectorRegistry(), solo=True)
    assert leadership.leading and leadership.may_act()
    assert leadership.health()["role"] == "leader"
    assert not store.fence.armed


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
async def test_leadership_gains_renews_and_loses(store: Store, second: Store) -> None:
    import asyncio

    registry = CollectorRegistry()
    leadership = Leadership(
        store, cluster(lease_seconds=1.0, renew_interval=0.2), registry, solo=False
    )
    stopping = asyncio.Event()
    task = asyncio.ensure_future(leadership.run(stopping))
    try:
        await asyncio.wait_for(leadership.changed.wait(), 10)
        assert leadership.leading and leadership.may_act() and store.fence.armed
        assert registry.get_sample_value("feedbot_leader") == 1
        health = leadership.health()
        assert health["role"] == "leader" and health["leader"] == "me"
        leadership.changed.clear()
        # another replica steals it (as if our renewals had stopped): we notice and step down
        await asyncio.to_thread(steal, second)
        await asyncio.wait_for(leadership.changed.wait(), 10)
        assert not leadership.leading and not leadership.may_act()
        assert registry.get_sample_value("feedbot_leader") == 0
        changes = registry.get_sample_value("feedbot_leadership_changes_total", {"to": "follower"})
        assert changes == 1
        with pytest.raises(FencedError):
            await asyncio.to_thread(store.outbox.release_claims)
    finally:
        stopping.set()
        await task


def steal(store: Store) -> None:
    from sqlalchemy import update

    from feedbot.store.schema import leases

    with store.db.write() as conn:
        conn.execute(update(leases).values(holder="thief", epoch=leases.c.epoch + 1))


def test_a_replica_name_is_held_renewed_and_forgotten(store: Store, second: Store) -> None:
    """Replica names in-process, on both engines: one holder per name; a clean stop
    deletes the name's row; a crashed replica's row is pruned once long expired."""
    from feedbot.cluster.leader import NAME_PREFIX, NameClaim, NameClashError

    mine, twin = NameClaim(store, "web-1", 0.5), NameClaim(second, "web-1", 0.5)
    mine.take()
    with pytest.raises(NameClashError, match=r"'web-1' is in use .* pid \d+ #"):
        twin.take()
    NameClaim(second, "web-2", 0.5).take()  # another name is free
    mine.keep()
    mine.release()
    twin.take()  # a clean stop let it go: taken at once
    assert Lease(store.db, f"{NAME_PREFIX}web-1").view().holder == twin.holder
    twin.release()
    assert Lease(store.db, f"{NAME_PREFIX}web-1").view().holder is None  # the row is gone
    until(
        lambda: not Lease(store.db, f"{NAME_PREFIX}web-2").view().live, interval=0.01
    )  # "crashed"
    assert Lease(store.db).prune(NAME_PREFIX, 3600) == 0  # expired, but only just
    assert Lease(store.db).prune(NAME_PREFIX, 0) == 1
    assert Lease(store.db, f"{NAME_PREFIX}web-2").view().holder is None
