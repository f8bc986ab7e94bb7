"""The store: SQLAlchemy 2 Core over one SQLite file — the only module that speaks SQL.

Tables: ``articles`` (one row per article file ever seen, removed ones kept),
``chats`` (subscriptions), ``deliveries`` (the outbox: one row per post owed to a
chat) and ``state`` (key-value). The schema is versioned by a one-row
``schema_version`` table and migrated on open by `MIGRATIONS`, a list of
functions (version n+1 is ``MIGRATIONS[n]``). A database newer than this code
raises `SchemaTooNewError` before anything is written. Every write is one
``BEGIN IMMEDIATE`` transaction; readers use WAL snapshots.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from feedbot.article import Article, Entry, article_from_dict, article_to_dict
from feedbot.errors import SchemaTooNewError, StoreError

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Delivery",
    "Known",
    "Store",
    "StoreSource",
]


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC ISO 8601 text (sorts as time for years 1–9999)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
articles = Table(
    "articles",
    metadata,
    Column("id", Text, primary_key=True),
    Column("path", Text, nullable=False),  # file name inside the index folder
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("body", Text, nullable=False),  # JSON of article_to_dict()
    Column("date", UtcDateTime, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("headline", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("published", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("removed_at", UtcDateTime),
    Column("broadcast", Boolean, nullable=False),
    Index("articles_order", "removed_at", "date", "seq", "id"),
)
chats = Table(
    "chats",
    metadata,
    Column("id", Text, primary_key=True),  # Telegram chat id as text, or @username
    Column("type", Text, nullable=False),
    Column("title", Text),
    Column("language", Text),
    Column("subscribed", Boolean, nullable=False),
    Column("subscribed_at", UtcDateTime),
    Column("unsubscribed_at", UtcDateTime),
)
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_id", Text, ForeignKey("articles.id"), nullable=False),
    Column("chat", Text, nullable=False),
    Column("status", Text, nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("message_ids", Text, nullable=False, default="[]"),  # JSON list of confirmed pieces
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    UniqueConstraint("article_id", "chat"),
    Index("deliveries_due", "status", "next_attempt_at"),
)
state = Table(
    "state",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)


def _migration_1(conn: Connection) -> None:
    """The first schema: articles, chats, deliveries, state."""
    metadata.create_all(conn, tables=[articles, chats, deliveries, state])


MIGRATIONS: list[Callable[[Connection], None]] = [_migration_1]
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True, slots=True)
class Known:
    """What the store knows about one article file (for the index decider)."""

    article_id: str
    size: int
    mtime_ns: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """One post owed to one chat, as the ledger holds it."""

    id: int
    article_id: str
    chat: str
    attempts: int
    message_ids: tuple[int, ...]  # pieces already confirmed, in order
    language: str | None  # the chat's language, if known


def _on_disk_version(path: Path) -> int | None:
    """The schema version of an existing database, read without writing (None: no schema)."""
    if not path.exists():
        return None
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as raw:
            found = raw.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
            ).fetchone()
            if found is None:
                return None
            row = raw.execute("SELECT max(version) FROM schema_version").fetchone()
    except sqlite3.Error as e:
        raise StoreError(f"{path}: cannot open the database: {e}") from None
    return int(row[0]) if row and row[0] is not None else 0


def _entry(row: Any) -> Entry:
    return Entry(article=article_from_dict(json.loads(row.body)), updated=row.updated)


class Store:
    """The database: open with `Store.open`, close with `close`."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self._engine = engine
        self.path = path
        self._version = 0  # bumped after every committed article change

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating it and its folder) and migrate the database at ``path``."""
        found = _on_disk_version(path)
        if found is not None and found > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{path}: the database has schema version {found}, this feedbot knows up to "
                f"{SCHEMA_VERSION}; upgrade feedbot or point storage.path elsewhere"
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"{path}: cannot create the folder: {e.strerror}") from None
        engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _connect(dbapi: Any, record: Any) -> None:
            dbapi.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # after the version check above
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        store = cls(engine, path)
        try:
            store._migrate()
        except SchemaTooNewError:
            engine.dispose()
            raise
        except SQLAlchemyError as e:
            engine.dispose()
            raise StoreError(
                f"{path}: cannot open the database: {getattr(e, 'orig', None) or e}"
            ) from None
        return store

    def _migrate(self) -> None:
        with self._write() as conn:
            schema_version.create(conn, checkfirst=True)
            current = conn.scalar(select(func.max(schema_version.c.version))) or 0
            if current > SCHEMA_VERSION:
                raise SchemaTooNewError(f"{self.path}: schema version {current} is too new")
            for number in range(current, SCHEMA_VERSION):
                MIGRATIONS[number](conn)
            if current != SCHEMA_VERSION:
                conn.execute(schema_version.delete())
                conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))

    def close(self) -> None:
        """Close every connection (checkpointing the WAL)."""
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error)."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"{self.path}: {getattr(e, 'orig', None) or e}") from e

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self._read() as conn:
            return int(conn.scalar(select(func.max(schema_version.c.version))) or 0)

    # --- state ------------------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        with self._read() as conn:
            return conn.scalar(select(state.c.value).where(state.c.key == key))

    def set_state(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        with self._write() as conn:
            _set_state(conn, key, value)

    # --- articles ---------------------------------------------------------------------------

    @property
    def version(self) -> int:
        """A counter bumped after every committed article change (in this process)."""
        return self._version

    def known_files(self) -> dict[str, Known]:
        """File name → what the store knows, for every article not removed."""
        query = select(
            articles.c.path,
            articles.c.id,
            articles.c.size,
            articles.c.mtime_ns,
            articles.c.content_hash,
        ).where(articles.c.removed_at.is_(None))
        with self._read() as conn:
            return {
                r.path: Known(r.id, r.size, r.mtime_ns, r.content_hash) for r in conn.execute(query)
            }

    def apply_changes(
        self,
        upserts: Sequence[tuple[Article, str, int, int, str]],
        removals: Iterable[str],
        now: datetime,
        *,
        broadcast: bool,
        channels: Sequence[str] = (),
        state_updates: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Store articles (article, file name, size, mtime_ns, hash) and remove ids, in one
        transaction. Articles never seen before get ``broadcast`` and, when it is true, one
        pending delivery per subscribed chat and per channel. Returns the new article ids."""
        created: list[str] = []
        with self._write() as conn:
            if upserts:
                created = _upsert(conn, upserts, now, broadcast)
            for article_id in removals:
                conn.execute(
                    update(articles)
                    .where(articles.c.id == article_id, articles.c.removed_at.is_(None))
                    .values(removed_at=now)
                )
            if broadcast and created:
                _queue(conn, created, channels, now)
            for key, value in (state_updates or {}).items():
                _set_state(conn, key, value)
        if upserts or removals:
            self._version += 1
        return created

    def add_article(
        self,
        article: Article,
        *,
        path: str,
        size: int,
        mtime_ns: int,
        content_hash: str,
        now: datetime,
        broadcast: bool = True,
        channels: Sequence[str] = (),
    ) -> bool:
        """Insert or update one article; True when it was new (see `apply_changes`)."""
        new = self.apply_changes(
            [(article, path, size, mtime_ns, content_hash)],
            (),
            now,
            broadcast=broadcast,
            channels=channels,
        )
        return bool(new)

    def remove_article(self, article_id: str, now: datetime) -> None:
        """Mark an article removed: it leaves the feed and pages, its row stays."""
        self.apply_changes([], [article_id], now, broadcast=False)

    def count(self) -> int:
        """Articles in the feed (not removed)."""
        with self._read() as conn:
            query = (
                select(func.count()).select_from(articles).where(articles.c.removed_at.is_(None))
            )
            return int(conn.scalar(query) or 0)

    def newest(self, offset: int, limit: int) -> list[Entry]:
        """Entries not removed, by date, seq and id, all descending."""
        query = (
            select(articles.c.body, articles.c.updated)
            .where(articles.c.removed_at.is_(None))
            .order_by(articles.c.date.desc(), articles.c.seq.desc(), articles.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        with self._read() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def entry(self, article_id: str) -> Entry | None:
        """The entry of one article not removed, or None."""
        query = select(articles.c.body, articles.c.updated).where(
            articles.c.id == article_id, articles.c.removed_at.is_(None)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _entry(row)

    def latest_entries(self, limit: int) -> list[Entry]:
        """The ``limit`` newest entries."""
        return self.newest(0, limit)

    def article_row(self, article_id: str) -> dict[str, Any] | None:
        """Every column of one article row (removed or not), for tests and tools."""
        with self._read() as conn:
            row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
        return None if row is None else dict(row._mapping)

    # --- chats ------------------------------------------------------------------------------

    def subscribe(
        self, chat: str, *, kind: str, title: str | None, now: datetime | None = None
    ) -> bool:
        """Subscribe a chat; True when it was not subscribed before."""
        now = now or datetime.now(UTC)
        with self._write() as conn:
            row = conn.execute(select(chats.c.subscribed).where(chats.c.id == chat)).first()
            if row is None:
                conn.execute(
                    insert(chats).values(
                        id=chat, type=kind, title=title, subscribed=True, subscribed_at=now
                    )
                )
                return True
            conn.execute(
                update(chats)
                .where(chats.c.id == chat)
                .values(type=kind, title=title, subscribed=True, subscribed_at=now)
                if not row.subscribed
                else update(chats).where(chats.c.id == chat).values(type=kind, title=title)
            )
            return not row.subscribed

    def unsubscribe(self, chat: str, now: datetime | None = None) -> bool:
        """Unsubscribe a chat; True when it was subscribed."""
        now = now or datetime.now(UTC)
        with self._write() as conn:
            result = conn.execute(
                update(chats)
                .where(chats.c.id == chat, chats.c.subscribed.is_(True))
                .values(subscribed=False, unsubscribed_at=now)
            )
            return bool(result.rowcount)

    def subscribers(self) -> list[str]:
        """Ids of the subscribed chats."""
        with self._read() as conn:
            query = select(chats.c.id).where(chats.c.subscribed.is_(True)).order_by(chats.c.id)
            return list(conn.scalars(query))

    def chat_language(self, chat: str) -> str | None:
        """The language chosen for a chat, or None."""
        with self._read() as conn:
            return conn.scalar(select(chats.c.language).where(chats.c.id == chat))

    def set_chat_language(self, chat: str, language: str) -> None:
        """Set a chat's language (the chat row is created, unsubscribed, if missing)."""
        with self._write() as conn:
            done = conn.execute(update(chats).where(chats.c.id == chat).values(language=language))
            if not done.rowcount:
                conn.execute(
                    insert(chats).values(
                        id=chat, type="private", language=language, subscribed=False
                    )
                )

    def stats(self) -> dict[str, int]:
        """Counts for /stats: subscribers, articles, deliveries by status."""
        with self._read() as conn:
            subs = conn.scalar(select(func.count()).select_from(chats).where(chats.c.subscribed))
            query = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            by_status = {str(r[0]): int(r[1]) for r in conn.execute(query)}
        counts = {"subscribers": int(subs or 0), "articles": self.count()}
        for status in ("pending", "sending", "sent", "failed"):
            counts[f"deliveries_{status}"] = int(by_status.get(status, 0))
        return counts

    # --- deliveries (the outbox) ------------------------------------------------------------

    def release_claims(self) -> int:
        """Put every ``sending`` row (left by a crash) back to ``pending``; how many."""
        with self._write() as conn:
            result = conn.execute(
                update(deliveries).where(deliveries.c.status == "sending").values(status="pending")
            )
            return int(result.rowcount)

    def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        """Mark up to ``limit`` due pending rows ``sending`` and return them, oldest first."""
        query = (
            select(
                deliveries.c.id,
                deliveries.c.article_id,
                deliveries.c.chat,
                deliveries.c.attempts,
                deliveries.c.message_ids,
                chats.c.language,
            )
            .select_from(deliveries.outerjoin(chats, chats.c.id == deliveries.c.chat))
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
        )
        with self._write() as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_([r.id for r in rows]))
                    .values(status="sending")
                )
        return [
            Delivery(
                r.id, r.article_id, r.chat, r.attempts, tuple(json.loads(r.message_ids)), r.language
            )
            for r in rows
        ]

    def record_progress(self, delivery_id: int, message_ids: Sequence[int]) -> None:
        """Record the pieces of a split post Telegram has confirmed so far."""
        self._set_delivery(delivery_id, message_ids=json.dumps(list(message_ids)))

    def mark_sent(self, delivery_id: int, message_ids: Sequence[int], at: datetime) -> None:
        """Telegram confirmed the whole post."""
        self._set_delivery(
            delivery_id,
            status="sent",
            message_ids=json.dumps(list(message_ids)),
            sent_at=at,
            error=None,
        )

    def mark_sent_many(self, done: Sequence[tuple[int, Sequence[int], datetime]]) -> None:
        """`mark_sent` for many deliveries (id, message ids, sent at) in one transaction."""
        if not done:
            return
        query = (
            update(deliveries)
            .where(deliveries.c.id == bindparam("delivery_id"))
            .values(
                status="sent", message_ids=bindparam("ids"), sent_at=bindparam("at"), error=None
            )
        )
        rows = [{"delivery_id": i, "ids": json.dumps(list(m)), "at": at} for i, m, at in done]
        with self._write() as conn:
            conn.execute(query, rows)

    def mark_retry(
        self, delivery_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        """Back to ``pending``, due again at ``next_attempt_at``."""
        self._set_delivery(
            delivery_id,
            status="pending",
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            error=error,
        )

    def mark_failed(self, delivery_id: int, attempts: int, error: str) -> None:
        """Give up on a delivery, keeping the reason."""
        self._set_delivery(delivery_id, status="failed", attempts=attempts, error=error)

    def _set_delivery(self, delivery_id: int, **values: Any) -> None:
        with self._write() as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    def chat_gone(self, chat: str, reason: str) -> None:
        """The chat blocked or removed the bot: unsubscribe it, fail what it was owed."""
        now = datetime.now(UTC)
        with self._write() as conn:
            conn.execute(
                update(chats)
                .where(chats.c.id == chat)
                .values(subscribed=False, unsubscribed_at=now)
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.chat == chat, deliveries.c.status.in_(["pending", "sending"]))
                .values(status="failed", error=reason)
            )

    def chat_migrated(self, old: str, new: str) -> None:
        """A group became a supergroup: the subscription and owed posts follow the new id."""
        with self._write() as conn:
            row = conn.execute(select(chats).where(chats.c.id == old)).first()
            if (
                row is not None
                and conn.execute(select(chats.c.id).where(chats.c.id == new)).first() is None
            ):
                values = dict(row._mapping) | {"id": new, "type": "supergroup"}
                conn.execute(insert(chats).values(**values))
                conn.execute(update(chats).where(chats.c.id == old).values(subscribed=False))
            owed = select(deliveries.c.article_id).where(deliveries.c.chat == new)
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.chat == old,
                    deliveries.c.status.in_(["pending", "sending"]),
                    deliveries.c.article_id.not_in(owed),
                )
                .values(chat=new, status="pending", message_ids="[]")
            )

    def deliveries_for(self, article_id: str) -> list[dict[str, Any]]:
        """Every delivery row of one article (for tests and tools)."""
        with self._read() as conn:
            query = (
                select(deliveries)
                .where(deliveries.c.article_id == article_id)
                .order_by(deliveries.c.chat)
            )
            return [dict(r._mapping) for r in conn.execute(query)]


def _set_state(conn: Connection, key: str, value: str) -> None:
    done = conn.execute(update(state).where(state.c.key == key).values(value=value))
    if not done.rowcount:
        conn.execute(insert(state).values(key=key, value=value))


def _row(article: Article, name: str, size: int, mtime_ns: int, digest: str) -> dict[str, Any]:
    published = article.date.value
    return {
        "path": name,
        "size": size,
        "mtime_ns": mtime_ns,
        "content_hash": digest,
        "body": json.dumps(article_to_dict(article), ensure_ascii=False, separators=(",", ":")),
        "date": published,
        "seq": article.seq,
        "headline": article.headline,
        "language": article.language,
        "published": published,
        "removed_at": None,
    }


def _upsert(
    conn: Connection,
    upserts: Sequence[tuple[Article, str, int, int, str]],
    now: datetime,
    broadcast: bool,
) -> list[str]:
    """Insert or update article rows; the ids never seen before."""
    ids = [u[0].id for u in upserts]
    query = select(articles.c.id, articles.c.content_hash).where(articles.c.id.in_(ids))
    hashes = {r.id: r.content_hash for r in conn.execute(query)}
    fresh: list[dict[str, Any]] = []
    for article, name, size, mtime_ns, digest in upserts:
        values = _row(article, name, size, mtime_ns, digest)
        if article.id not in hashes:
            published = article.date.value
            extra = {"id": article.id, "first_seen": now, "updated": published}
            fresh.append(values | extra | {"broadcast": broadcast})
            hashes[article.id] = digest
            continue
        if hashes[article.id] != digest:
            values["updated"] = max(now, article.date.value)
        conn.execute(update(articles).where(articles.c.id == article.id).values(**values))
    if fresh:
        conn.execute(insert(articles), fresh)
    return [row["id"] for row in fresh]


def _queue(
    conn: Connection, article_ids: Sequence[str], channels: Sequence[str], now: datetime
) -> None:
    """One pending delivery per subscribed chat and per channel for each article."""
    targets = list(
        dict.fromkeys([*conn.scalars(select(chats.c.id).where(chats.c.subscribed)), *channels])
    )
    if not targets:
        return
    rows = [
        {
            "article_id": a,
            "chat": c,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "message_ids": "[]",
            "created_at": now,
        }
        for a in article_ids
        for c in targets
    ]
    conn.execute(insert(deliveries).prefix_with("OR IGNORE"), rows)


class StoreSource:
    """The store as a `feedbot.site.EntrySource` (count cached per version)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._count: tuple[int, int] | None = None

    def version(self) -> object:
        return self._store.version

    def count(self) -> int:
        version = self._store.version
        if self._count is None or self._count[0] != version:
            self._count = (version, self._store.count())
        return self._count[1]

    def newest(self, offset: int, limit: int) -> Sequence[Entry]:
        return self._store.newest(offset, limit)

    def get(self, article_id: str) -> Entry | None:
        return self._store.entry(article_id)
