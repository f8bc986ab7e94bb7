"""The store: SQLAlchemy Core over one database — the only package that speaks SQL.

Split by job: `engine` (opening, connection set-up, migrations, transactions and
the database threads), `urls` (storage.url), `schema` (the tables), `articles` (what
the indexer stores and the site reads), `chats` (subscriptions), `outbox` (the delivery
ledger) and `listen` (LISTEN for what other replicas commit).
`Store` opens one database and hands out the parts; each consumer takes only the
part it needs, through the Protocol it declares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from feedbot.store.articles import CHANGES_CHANNEL, Articles, FileRecord, Known
from feedbot.store.chats import AsyncChats, Chats
from feedbot.store.digests import Digests
from feedbot.store.edits import Edits, Publishing
from feedbot.store.engine import SCHEMA_VERSION, Database
from feedbot.store.finder import Search
from feedbot.store.inbox import Inbox
from feedbot.store.lease import LEADER, Fence, Lease
from feedbot.store.outbox import Delivery, Outbox
from feedbot.store.source import StoreSource
from feedbot.store.subscriptions import Subscription, Subscriptions
from feedbot.store.urls import libpq_url

if TYPE_CHECKING:  # psycopg is imported when a replica starts listening, not before
    from feedbot.store.listen import ChangeListener

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "SCHEMA_VERSION",
    "Articles",
    "AsyncChats",
    "Chats",
    "Database",
    "Delivery",
    "Digests",
    "Edits",
    "Fence",
    "FileRecord",
    "Inbox",
    "Known",
    "Lease",
    "Outbox",
    "Publishing",
    "Search",
    "Store",
    "StoreSource",
    "Subscription",
    "Subscriptions",
]


@dataclass(frozen=True, slots=True)
class Store:
    """One open database and its parts."""

    db: Database
    articles: Articles
    chats: Chats
    outbox: Outbox
    fence: Fence  # armed by `feedbot.cluster.leader` when replicas elect a leader
    inbox: Inbox
    subscriptions: Subscriptions
    edits: Edits  # corrections owed to messages already sent
    digests: Digests  # the leader's digest job writes through it
    search: Search  # full-text search over the articles

    @classmethod
    def open(cls, path: Path, *, url: str | None = None) -> Store:
        """Open (creating and migrating) the database: ``url`` if given, else the SQLite
        file at ``path``."""
        db = Database.open(path, url=url)
        fence = Fence()
        articles = Articles(db, fence)
        return cls(
            db,
            articles=articles,
            chats=Chats(db),
            outbox=Outbox(db, articles, fence),
            fence=fence,
            inbox=Inbox(db, fence),
            subscriptions=Subscriptions(db),
            edits=Edits(db, fence),
            digests=Digests(db, fence),
            search=Search(db, lambda: articles.version),
        )

    @property
    def name(self) -> str:
        """The SQLite file, or the database URL with its password masked."""
        return self.db.name

    def async_chats(self) -> AsyncChats:
        """The chats for the bot's handlers (calls run on the database threads)."""
        return AsyncChats(self.chats, self.articles, self.db, self.subscriptions)

    def change_listener(self, *, on_connect: Callable[[], None]) -> ChangeListener:
        """A listener (not started) that calls `Articles.changed_elsewhere` for each article
        change another replica commits, and ``on_connect`` on every (re)connect. PostgreSQL
        only: SQLite has one writer, this process."""
        from feedbot.store.listen import ChangeListener

        return ChangeListener(
            libpq_url(self.db.engine.url),
            {CHANGES_CHANNEL: self.articles.changed_elsewhere},
            on_connect=on_connect,
            name=self.name,
        )

    def close(self) -> None:
        self.db.close()

    # --- named operations: callers outside the store use these, never `db` or `fence` ----

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` — work on the store's parts — on a database thread."""
        return await self.db.call(fn, *args, **kwargs)

    def shrink_caches(self) -> int:
        """Give the idle connections' page caches back (`Database.shrink_caches`)."""
        return self.db.shrink_caches()

    async def call_retrying(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`call`, retried while the server is unreachable: for writes that record what
        already happened (a sent post)."""
        return await self.db.call_retrying(fn, *args, **kwargs)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.db.dialect

    @property
    def outage(self) -> str | None:
        """Why the database server cannot be reached, while it cannot; else None."""
        return self.db.outage

    def reconnect(self) -> None:
        """Drop the pooled connections: the next call opens fresh ones."""
        self.db.reconnect()

    async def watch_outages(self, back: Callable[[], None]) -> None:
        """Run until cancelled: during an outage try the server with backoff and call
        ``back()`` once it answers again."""
        await self.db.watch_outages(back)

    def lease(self, name: str = LEADER) -> Lease:
        """The lease row ``name`` (the leader lease by default, or a replica's name)."""
        return Lease(self.db, name)

    def arm_fence(self) -> None:
        """From now on, leader-only writes need the lease (replicas on PostgreSQL)."""
        self.fence.arm()

    def hold_fence(self, holder: str, epoch: int) -> None:
        """This replica now leads under ``epoch``: leader-only writes may pass."""
        self.fence.hold(holder, epoch)

    def drop_fence(self) -> None:
        """This replica no longer leads: every leader-only write fails without asking."""
        self.fence.drop()
