"""A sidecar store: chats and ledgers of its own over the articles of another store.

The playground (`feedbot.playground`) runs a real bot whose chats must never meet the
real ones, over the articles the daemon has already stored. `open_sidecar` opens a
SQLite file for the sidecar's chats, subscriptions, deliveries, corrections and
digests, and a `Store` on it whose article reads go to the main store:

- its `Articles` is a second handle on the main database behind `ReadOnlyFence`, which
  refuses every write: the article rows are read, never written;
- the parts that read articles beside their own tables read the main database too:
  the counts of ``/stats`` (`SidecarChats`), the article a correction renders
  (`SidecarEdits`) and the articles a digest lists (`Digests` with ``articles``);
- its own ``articles`` table stays empty, and its deliveries name their article by id
  alone: SQLite is not asked to check the foreign key to that table in this file.

The main store may be SQLite or PostgreSQL; nothing joins across the two databases.
`Sidecar.states` reads what the main store holds (id and `ArticleState` rows, for
the caller to decide what changed) and `Sidecar.take_in` writes what those changes owe
the sidecar's chats, by the same rules as the main store (`queue_owed`).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Generator, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy import Connection, event, select, text

from feedbot.articles.model import Article, Entry, article_from_dict
from feedbot.errors import StoreError
from feedbot.store import Store
from feedbot.store.articles import Articles, queue_owed
from feedbot.store.chats import Chats
from feedbot.store.digests import Digests
from feedbot.store.edits import Edits, Publishing
from feedbot.store.engine import Database
from feedbot.store.finder import Search
from feedbot.store.inbox import Inbox
from feedbot.store.lease import Fence
from feedbot.store.outbox import Outbox
from feedbot.store.schema import articles
from feedbot.store.subscriptions import Subscriptions

__all__ = ["ArticleState", "ReadOnlyFence", "Sidecar", "SidecarChats", "SidecarEdits"]

IN_CHUNK = 500  # ids in one IN (…) when reading article bodies


class ArticleState(NamedTuple):
    """What the sidecar needs to know of one article row to notice it change."""

    content_hash: str
    status: str  # "live" (in the feed), "scheduled" (waits for its date) or "removed"


class ReadOnlyFence(Fence):
    """A fence no write passes: the article rows seen through it are read only."""

    @contextmanager
    def write(self, db: Database) -> Iterator[Connection]:
        raise StoreError(f"{db.name}: the articles are read only here")
        yield  # pragma: no cover - a generator, for contextmanager


class SidecarChats(Chats):
    """`Chats` whose ``/stats`` counts the main store's articles."""

    def __init__(self, db: Database, main: Articles) -> None:
        super().__init__(db)
        self._main = main

    def stats(self) -> dict[str, int]:
        return super().stats() | {"articles": self._main.count()}


class SidecarEdits(Edits):
    """`Edits` that render corrections from the main store's article rows."""

    def __init__(self, db: Database, fence: Fence, main: Database) -> None:
        super().__init__(db, fence)
        self._main = Edits(main, ReadOnlyFence())

    def article(self, article_id: str) -> tuple[Entry, bool] | None:
        return self._main.article(article_id)


def _no_foreign_keys(dbapi: Any, record: Any) -> None:
    """A new SQLite connection: deliveries name articles of another database."""
    cursor = dbapi.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


class Sidecar:
    """The sidecar's `Store` (``store``) and its window on the main store's articles."""

    def __init__(self, db: Database, main: Database) -> None:
        self._main = main
        fence = Fence()  # the sidecar is its own only writer
        seen = Articles(main, ReadOnlyFence())
        self.store = Store(
            db,
            seen,
            SidecarChats(db, seen),
            Outbox(db, seen, fence),
            fence,
            Inbox(db, fence),
            Subscriptions(db),
            SidecarEdits(db, fence, main),
            Digests(db, fence, articles=main),
            Search(main, lambda: seen.version),  # the playground's /search: the daemon's
        )

    @classmethod
    def open(cls, path: Path, main: Store) -> Sidecar:
        """Open (creating) the SQLite file at ``path`` beside ``main``."""
        db = Database.open(path)
        event.listen(db.engine, "connect", _no_foreign_keys)  # after the engine's own
        db.reconnect()  # the connections opened to migrate checked them
        return cls(db, main.db)

    def states(self) -> Generator[tuple[str, ArticleState], None, None]:
        """Every article row of the main store: (id, `ArticleState`), in the order read,
        one at a time (the read lasts until they are all taken, or this is closed). On
        SQLite the connection then gives back the pages it read (``PRAGMA shrink_memory``):
        every row of the table passed through its cache, none is needed next."""
        query = select(
            articles.c.id, articles.c.content_hash, articles.c.removed_at, articles.c.scheduled
        )
        with self._main.read() as conn:
            for r in conn.execute(query):
                status = (
                    "removed"
                    if r.removed_at is not None
                    else ("scheduled" if r.scheduled else "live")
                )
                yield r.id, ArticleState(r.content_hash, status)
            if conn.dialect.name == "sqlite":  # read through: its pages leave the cache
                conn.execute(text("PRAGMA shrink_memory"))

    def _published(self, ids: Sequence[str]) -> list[Article]:
        """The main store's articles of ``ids`` that are in the feed, in that order."""
        found: dict[str, Article] = {}
        with self._main.read() as conn:
            for i in range(0, len(ids), IN_CHUNK):
                query = select(articles.c.id, articles.c.body).where(
                    articles.c.id.in_(ids[i : i + IN_CHUNK]),
                    articles.c.removed_at.is_(None),
                    articles.c.scheduled.is_(False),
                )
                for r in conn.execute(query):
                    found[r.id] = article_from_dict(json.loads(r.body))
        return [found[i] for i in ids if i in found]

    def take_in(
        self,
        posts: Sequence[str],
        changed: Collection[str],
        gone: Collection[str],
        now: datetime,
        publishing: Publishing,
    ) -> int:
        """Queue what the main store's changes owe the sidecar's chats: a post of each
        article in ``posts`` (read from the main store), corrections of ``changed`` and
        ``gone`` ones (`queue_owed`). How many articles were queued for posting."""
        new = self._published(posts) if posts else []
        if not (new or changed or gone):
            return 0
        with self.store.fence.write(self.store.db) as conn:
            queue_owed(conn, new, changed, gone, now, publishing)
        return len(new)

    def close(self) -> None:
        self.store.close()
