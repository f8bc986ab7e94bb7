"""The playground over the daemon's own articles, on SQLite and on PostgreSQL.

It does not index the folder a second time: the daemon's scan stores an article in the
main store, and the playground's chats — kept in a database of their own — get it posted,
corrected and marked removed from there, scheduled ones when their date comes. The real
chats' ledger never sees a playground chat, and the playground never writes an article.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from feedbot.app import build_daemon
from feedbot.articles.parse import parse
from feedbot.errors import StoreError
from feedbot.playground import playground_component
from feedbot.playground.owed import Owed, Snapshot, look, owed
from feedbot.playground.service import USER_ID, Playground
from feedbot.runtime.daemon import Daemon
from feedbot.store import FileRecord, Store
from feedbot.store.schema import articles, deliveries
from feedbot.store.sidecar import ArticleState
from tests.playground.test_playground import CHANNEL, settings_for
from tests.storekit import deliveries_for, off_loop
from tests.waiting import until_async

NAME = "001_aaaabbbbccccdddd.txt"


class Room:
    """A daemon's parts on one store, with its playground started and leading."""

    def __init__(self, daemon: Daemon, pg: Playground, index: Path) -> None:
        self.daemon, self.pg, self.index = daemon, pg, index

    async def scan(self, now: datetime | None = None) -> None:
        """What `Daemon.scan` does (on PostgreSQL too, where no lease is held here):
        the indexer stores what changed, then the components are woken."""
        store = self.daemon.store
        report = await store.db.call(lambda: self.daemon.indexer.scan(now))
        self.pg.wake((*report.changed, *report.removed))

    async def drop(self, text: str, name: str = NAME) -> None:
        (self.index / name).write_text(text, encoding="utf-8")
        await self.scan()

    async def shown(self, chat: int, needle: str, *, edited: bool = False) -> None:
        def seen() -> bool:
            return any(
                m.sender == "bot" and needle in m.text and (m.edited or not edited)
                for m in self.pg.log.messages(chat)
            )

        await until_async(seen)


@pytest.fixture
async def room(tmp_path: Path, store: Store) -> AsyncIterator[Room]:
    settings = settings_for(tmp_path)
    daemon = await off_loop(build_daemon, settings, store, components=[playground_component])
    [pg] = daemon.components
    assert isinstance(pg, Playground)
    await pg.start()
    r = Room(daemon, pg, settings.index.path)
    await r.scan()  # the first scan, then the components lead (as `Daemon.run`)
    await pg.lead(daemon.leadership)
    assert pg.running, pg.problem
    yield r
    await pg.stop()


def _count(store: Store, table: Any) -> int:
    with store.db.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)


async def test_posts_corrections_and_removals_come_from_the_daemons_store(room: Room) -> None:
    pg, main = room.pg, room.daemon.store
    pg.send(USER_ID, None, "/start", "en")
    await room.shown(USER_ID, "Welcome")
    await room.drop("date 2026-11-21 Rivers rise\n\nThe rivers rose all week.\n")
    await room.shown(USER_ID, "Rivers rise")
    await room.shown(CHANNEL, "Rivers rise")
    # the real chats' ledger has nothing of the playground's; the playground stores no article
    assert await off_loop(deliveries_for, main, "001_aaaabbbbccccdddd") == []
    assert pg.store is not None and await off_loop(_count, pg.store, articles) == 0
    assert await off_loop(_count, pg.store, deliveries) == 2  # the private chat, the channel

    await room.drop("date 2026-11-21 Rivers rise higher\n\nThe rivers rose all week.\n")
    await room.shown(USER_ID, "Rivers rise higher", edited=True)
    (room.index / NAME).unlink()
    await room.scan()

    await room.shown(USER_ID, "withdrawn", edited=True)  # marked: struck through, withdrawn


async def test_a_scheduled_article_is_posted_when_its_date_comes(room: Room) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    await room.drop(f"date {soon:%Y-%m-%d} Tomorrow's news\n\nNot yet.\n")
    assert room.pg.store is not None and await off_loop(_count, room.pg.store, deliveries) == 0
    await room.scan(now=soon + timedelta(days=1))  # the date came: the daemon publishes it
    await room.shown(CHANNEL, "Tomorrow's news")


async def test_a_restart_starts_from_what_the_store_holds(room: Room) -> None:
    await room.drop("date 2026-11-21 Old news\n\nKnown before the restart.\n")
    await room.shown(CHANNEL, "Old news")
    await room.pg.stop()
    await room.pg.start()
    await room.pg.lead(room.daemon.leadership)  # after the first scan of the new run
    await room.drop("date 2026-11-22 New news\n\nAfter the restart.\n", "002_aaaabbbbccccdddd.txt")
    await room.shown(CHANNEL, "New news")
    assert not any("Old news" in m.text for m in room.pg.log.messages(CHANNEL))


async def test_the_playground_cannot_write_an_article(room: Room) -> None:
    assert room.pg.store is not None
    article = parse("003_aaaabbbbccccdddd.txt", b"date 2026-11-22 No\n\nNo.\n")
    record = FileRecord(article, "003_aaaabbbbccccdddd.txt", 1, 1, "h")
    with pytest.raises(StoreError, match="read only"):
        await off_loop(
            room.pg.store.articles.apply_changes, [record], (), datetime.now(UTC), broadcast=True
        )


def _state(content: str, status: str = "live") -> ArticleState:
    return ArticleState(content, status)


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        ({}, {"a": _state("1")}, Owed(posts=("a",))),
        ({}, {"a": _state("1", "scheduled")}, Owed()),
        ({"a": _state("1", "scheduled")}, {"a": _state("2")}, Owed(posts=("a",))),
        ({"a": _state("1")}, {"a": _state("1")}, Owed()),
        ({"a": _state("1")}, {"a": _state("2")}, Owed(changed=("a",))),
        ({"a": _state("1", "removed")}, {"a": _state("1")}, Owed(changed=("a",))),
        ({"a": _state("1")}, {"a": _state("1", "removed")}, Owed(gone=("a",))),
        ({"a": _state("1", "removed")}, {"a": _state("2", "removed")}, Owed()),
        ({}, {"a": _state("1", "removed")}, Owed()),
    ],
)
def test_what_a_change_owes_the_chats(
    before: dict[str, ArticleState], now: dict[str, ArticleState], expected: Owed
) -> None:
    assert owed(Snapshot(before.items()), now.items()) == expected


def test_a_snapshot_finds_every_article_it_took_and_no_other() -> None:
    """The compact last look answers for each of many articles as the rows said."""
    rows = [
        (f"{i:03d}_article", _state(f"h{i % 7}", ("live", "scheduled", "removed")[i % 3]))
        for i in range(3000)
    ]
    snapshot = Snapshot(reversed(rows))
    assert len(snapshot) == 3000
    assert owed(snapshot, rows) == Owed()
    assert snapshot.get("3000_article") is None and snapshot.get("") is None
    moved = [(i, _state("new")) for i, s in rows if s.status == "live"][:500]
    assert owed(snapshot, moved) == Owed(changed=tuple(i for i, _ in moved))
    fresh = [(f"{i}_other", _state("1")) for i in range(500)]
    assert owed(snapshot, fresh) == Owed(posts=tuple(i for i, _ in fresh))
    assert look(None, rows)[0] is None  # a first look owes nothing
    due, again = look(snapshot, iter(moved + fresh))  # one pass: the owed and the next look
    assert due == Owed(posts=tuple(i for i, _ in fresh), changed=tuple(i for i, _ in moved))
    assert len(again) == 1000 and owed(again, moved + fresh) == Owed()


async def test_a_look_when_no_article_changed_reads_no_article(
    room: Room, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leading looks again for what came while the bot started: with no article changed
    since the last look, it reads nothing (no second copy of every article's state)."""
    sidecar = room.pg.sidecar
    assert sidecar is not None
    reads: list[int] = []
    states = sidecar.states

    def counted() -> Generator[tuple[str, ArticleState], None, None]:
        reads.append(1)
        return states()

    monkeypatch.setattr(sidecar, "states", counted)
    await room.pg.lead(room.daemon.leadership)
    assert reads == []
    await room.drop("date 2026-11-21 Rivers rise\n\nThe rivers rose all week.\n")
    await room.shown(CHANNEL, "Rivers rise")
    assert reads == [1]
