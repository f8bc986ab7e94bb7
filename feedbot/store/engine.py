"""The database engine: opening, connection set-up, migrations, transactions, and the
thread every database call from the event loop is handed to.

`Database` owns one SQLAlchemy engine. Writes are one transaction each (on SQLite
``BEGIN IMMEDIATE``, so a writer waits for the lock up front instead of failing at
commit); readers see WAL snapshots. The schema is versioned by a one-row
``schema_version`` table and migrated on open by `MIGRATIONS` (version n+1 is
``MIGRATIONS[n]``); a database newer than this code raises `SchemaTooNewError`
before anything is written.

No database call may run on an event loop's thread: a ``busy_timeout`` wait there
would freeze HTTP, the bot and the watcher together. Every statement checks it
(`_refuse_on_loop`), and async code goes through `Database.call`, which runs the
work on the store's own small thread pool.
"""

from __future__ import annotations

import asyncio
import functools
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    create_engine,
    event,
    func,
    insert,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from feedbot.errors import SchemaTooNewError, StoreError
from feedbot.store.schema import (
    articles,
    chats,
    deliveries,
    inbox,
    leases,
    metadata,
    schema_version,
    state,
)

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Database", "masked_url", "set_state"]

P = ParamSpec("P")
T = TypeVar("T")
DB_THREADS = 4  # a slow write never holds up a read (/latest, a page) behind it
IDLE_IN_TRANSACTION_MS = 5000  # below the shortest sensible lease (see feedbot.store.lease)
MIGRATION_LOCK = 0x66656564  # "feed": PostgreSQL advisory lock held while migrating


def _migration_1(conn: Connection) -> None:
    """The first schema: articles, chats, deliveries, state."""
    metadata.create_all(conn, tables=[articles, chats, deliveries, state])


def _migration_2(conn: Connection) -> None:
    """Replicas: the leader lease and the webhook inbox."""
    metadata.create_all(conn, tables=[leases, inbox])


MIGRATIONS: list[Callable[[Connection], None]] = [_migration_1, _migration_2]
SCHEMA_VERSION = len(MIGRATIONS)


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


def _refuse_on_loop(*_: Any) -> None:
    """A statement is about to run: refuse when the calling thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise StoreError("a database call was made on the event loop thread (use Database.call)")


def _too_new(where: str, found: int) -> SchemaTooNewError:
    return SchemaTooNewError(
        f"{where}: the database has schema version {found}, this feedbot knows up to "
        f"{SCHEMA_VERSION}; upgrade feedbot or point storage.path elsewhere"
    )


def masked_url(url: str | URL) -> str:
    """``url`` with its password hidden, for logs and errors."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparsable database URL>"
    return parsed.render_as_string(hide_password=True)


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            "storage.url is not a database URL (want postgresql+psycopg://user@host/db)"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise StoreError(
        f"storage.url: {backend!r} databases are not supported (use postgresql+psycopg or sqlite)"
    )


class Database:
    """One database: open with `Database.open`, close with `close`."""

    def __init__(self, engine: Engine, name: str, path: Path | None) -> None:
        self.engine = engine
        self.name = name  # the SQLite file, or the URL with its password masked
        self.path = path  # the SQLite file; None on PostgreSQL
        self._executor: ThreadPoolExecutor | None = None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @classmethod
    def open(cls, path: Path, *, url: str | None = None) -> Database:
        """Open and migrate the database: ``url`` when given (PostgreSQL, or a ``sqlite:///``
        URL), else the SQLite file at ``path`` (created with its folder)."""
        if url is not None:
            parsed = _parse_url(url)
            if parsed.get_backend_name() == "postgresql":
                return cls._open_postgresql(parsed)
            path = Path(parsed.database or "")
        return cls._open_sqlite(path)

    @classmethod
    def _open_postgresql(cls, url: URL) -> Database:
        engine = create_engine(
            url,
            pool_pre_ping=True,  # a connection lost to a server restart is replaced, not used
            pool_size=DB_THREADS + 2,
            max_overflow=4,
            connect_args={
                "connect_timeout": 5,
                "application_name": "feedbot",
                # A replica paused inside a transaction (SIGSTOP) must not hold the lease
                # row's share lock past its lease: the server ends such a session.
                "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}",
            },
        )
        event.listen(engine, "before_cursor_execute", _refuse_on_loop)
        return cls._migrated(cls(engine, masked_url(url), None))

    @classmethod
    def _open_sqlite(cls, path: Path) -> Database:
        found = _on_disk_version(path)
        if found is not None and found > SCHEMA_VERSION:
            raise _too_new(str(path), found)
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

        event.listen(engine, "before_cursor_execute", _refuse_on_loop)
        return cls._migrated(cls(engine, str(path), path))

    @classmethod
    def _migrated(cls, db: Database) -> Database:
        try:
            db._migrate()
        except StoreError as e:
            db.engine.dispose()
            if isinstance(e, SchemaTooNewError):
                raise
            cause = e.__cause__
            detail = getattr(cause, "orig", None) or cause or e
            raise StoreError(f"{db.name}: cannot open the database: {detail}") from None
        return db

    def _migrate(self) -> None:
        """Bring the schema up to `SCHEMA_VERSION` in one transaction (replicas that start
        together take turns: PostgreSQL's DDL is transactional and an advisory lock is held)."""
        with self.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            schema_version.create(conn, checkfirst=True)
            current = conn.scalar(select(func.max(schema_version.c.version))) or 0
            if current > SCHEMA_VERSION:
                raise _too_new(self.name, current)
            for number in range(current, SCHEMA_VERSION):
                MIGRATIONS[number](conn)
            if current != SCHEMA_VERSION:
                conn.execute(schema_version.delete())
                conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))

    def close(self) -> None:
        """Close every connection (checkpointing the WAL) and the database threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.engine.dispose()

    def reconnect(self) -> None:
        """Drop the pooled connections: the next call opens fresh ones (after a write error
        that a connection would otherwise keep, such as a database opened read-only)."""
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT, rolled back on error)."""
        try:
            with self.engine.connect() as conn:
                conn.execution_options(write=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"{self.name}: {getattr(e, 'orig', None) or e}") from e

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (a WAL snapshot per statement outside a transaction)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise StoreError(f"{self.name}: {getattr(e, 'orig', None) or e}") from e

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` — database work — on a database thread and await it."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="feedbot-db")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def schema_version(self) -> int:
        """The schema version of the open database."""
        with self.read() as conn:
            return int(conn.scalar(select(func.max(schema_version.c.version))) or 0)

    def get_state(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        with self.read() as conn:
            return conn.scalar(select(state.c.value).where(state.c.key == key))

    def set_state(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        with self.write() as conn:
            set_state(conn, key, value)


def set_state(conn: Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` inside the caller's transaction."""
    done = conn.execute(update(state).where(state.c.key == key).values(value=value))
    if not done.rowcount:
        conn.execute(insert(state).values(key=key, value=value))
