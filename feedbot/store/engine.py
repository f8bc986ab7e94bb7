"""The database engine: opening, connection set-up, migrations, transactions, and the
thread every database call from the event loop is handed to.

`Database` owns one SQLAlchemy engine. Writes are one transaction each (on SQLite
``BEGIN IMMEDIATE``, so a writer waits for the lock up front instead of failing at
commit); readers see WAL snapshots. The schema is versioned by a one-row
revision Alembic records and migrated on open (`feedbot.store.migrate`); a database
newer than this code raises `SchemaTooNewError` before anything is written.

No database call may run on an event loop's thread: a ``busy_timeout`` wait there
would freeze HTTP, the bot and the watcher together. Every statement checks it
(`_refuse_on_loop`), and async code goes through `Database.call`, which runs the
work on the store's own small thread pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import (
    URL,
    Connection,
    Engine,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import QueuePool

from feedbot.errors import FencedError, SchemaTooNewError, StoreError, UnstorableError
from feedbot.store.migrate import Position, head, inspect_database, revisions, upgrade
from feedbot.store.schema import insert_on, state
from feedbot.store.urls import database_url, masked_url

__all__ = ["SCHEMA_VERSION", "Database", "masked_url", "set_state"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
RETRY_FOR = 60.0  # seconds `Database.call_retrying` waits for a lost server to come back
DB_THREADS = 4  # a slow write never holds up a read (/latest, a page) behind it
IDLE_IN_TRANSACTION_MS = 5000  # below the shortest sensible lease (see feedbot.store.lease)
# SQLite's page cache per connection, in KiB (its default is 2000): the store keeps
# up to DB_THREADS + 1 connections open, each filling its cache during a cold ingest.
# 512 KiB holds the hot B-tree pages of the writes and of the feed's reads.
CACHE_KIB = 512
MIGRATION_LOCK = 0x66656564  # "feed": PostgreSQL advisory lock held while migrating


SCHEMA_VERSION = len(revisions())  # revisions applied to an up-to-date database


def _on_disk(path: Path) -> Position | None:
    """Where an existing SQLite database stands, read without writing (None: no file)."""
    if not path.exists():
        return None
    engine = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        with engine.connect() as conn:
            return inspect_database(conn)
    except SQLAlchemyError as e:
        raise StoreError(f"{path}: cannot open the database: {getattr(e, 'orig', e)}") from None
    finally:
        engine.dispose()


def _refuse_on_loop(*_: Any) -> None:
    """A statement is about to run: refuse when the calling thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise StoreError("a database call was made on the event loop thread (use Database.call)")


def _too_new(where: str, found: Position) -> SchemaTooNewError:
    return SchemaTooNewError(
        f"{where}: the database has schema {found.revision}, written by a newer feedbot "
        f"(this one knows up to {head()}); upgrade feedbot or point the storage elsewhere"
    )


class Database:
    """One database: open with `Database.open`, close with `close`."""

    def __init__(self, engine: Engine, name: str, path: Path | None) -> None:
        self.engine = engine
        self.name = name  # the SQLite file, or the URL with its password masked
        self.path = path  # the SQLite file; None on PostgreSQL
        self._executor: ThreadPoolExecutor | None = None
        self.outage: str | None = None  # why the server cannot be reached, while it cannot
        self._outage_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @classmethod
    def open(cls, path: Path, *, url: str | None = None) -> Database:
        """Open and migrate the database: ``url`` when given (PostgreSQL, or a ``sqlite:///``
        URL), else the SQLite file at ``path`` (created with its folder)."""
        if url is not None:
            parsed = database_url(url)
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
        found = _on_disk(path)
        if found is not None and not found.known:
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
            cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
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
        """Bring the schema up to date in one transaction; an up-to-date database is only
        read. Replicas that start together take turns: PostgreSQL's DDL is transactional
        and an advisory lock is held while migrating."""
        with self.read() as conn:
            position = inspect_database(conn)
        if not position.known:
            raise _too_new(self.name, position)
        if position.current:
            return
        with self.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            position = inspect_database(conn)
            if not position.known:
                raise _too_new(self.name, position)
            if not position.current:
                upgrade(conn, position)

    def position(self) -> Position:
        """Where the open database's schema stands."""
        with self.read() as conn:
            return inspect_database(conn)

    def close(self) -> None:
        """Close every connection (checkpointing the WAL) and the database threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.engine.dispose()

    def shrink_caches(self) -> int:
        """SQLite: give the page caches of the idle pooled connections back to the heap
        (``PRAGMA shrink_memory``), for after a burst such as a cold ingest: they hold the
        pages it wrote, up to `CACHE_KIB` each. How many were shrunk (none on PostgreSQL)."""
        pool = self.engine.pool
        if self.dialect != "sqlite" or not isinstance(pool, QueuePool):
            return 0
        idle = []
        try:
            for _ in range(pool.checkedin()):  # more than idle now: a new one, shrunk at once
                idle.append(self.engine.raw_connection())
            for conn in idle:
                cursor = conn.cursor()
                cursor.execute("PRAGMA shrink_memory")
                cursor.close()
        finally:
            for conn in idle:
                conn.close()  # back to the pool
        return len(idle)

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
            raise self._failed(e) from e
        self._reached()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection (a WAL snapshot per statement outside a transaction)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as e:
            raise self._failed(e) from e
        self._reached()

    def ping(self) -> None:
        """One round trip to the server (clears `outage` when it answers)."""
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def _failed(self, e: SQLAlchemyError) -> StoreError:
        """The StoreError for ``e``; a lost server is logged once, not per statement."""
        detail = str(getattr(e, "orig", None) or e)
        if isinstance(e, DataError | IntegrityError):  # the values, not the connection
            first = (detail.strip().splitlines() or [type(e).__name__])[0]
            return UnstorableError(first if len(first) <= 200 else first[:199] + "…")
        lost = self.dialect == "postgresql" and (
            isinstance(e, OperationalError | InterfaceError)
            or (isinstance(e, DBAPIError) and e.connection_invalidated)
        )
        if lost:
            reason = detail.strip().splitlines()[0][:200] if detail.strip() else type(e).__name__
            with self._outage_lock:
                if self.outage is None:
                    log.error("%s: database unreachable (%s); reconnecting", self.name, reason)
                self.outage = reason
        return StoreError(f"{self.name}: {detail}")

    def _reached(self) -> None:
        if self.outage is not None:
            with self._outage_lock:
                if self.outage is not None:
                    log.info("%s: database reachable again", self.name)
                    self.outage = None

    async def watch_outages(self, back: Callable[[], None]) -> None:
        """Run until cancelled: while the server is unreachable, try it with backoff (1 s …
        10 s) and call ``back()`` once it answers, so the caller need not wait for its next
        scheduled use to find out."""
        delay = 1.0
        while True:
            await asyncio.sleep(delay if self.outage is not None else 1.0)
            if self.outage is None:
                delay = 1.0
                continue
            with contextlib.suppress(StoreError):
                await self.call(self.ping)
            if self.outage is not None:
                delay = min(delay * 2, 10.0)
                continue
            back()

    async def call_retrying(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """`call`, retried with backoff while the server is unreachable (up to `RETRY_FOR`
        seconds): for writes that record what already happened, such as a sent post."""
        deadline = time.monotonic() + RETRY_FOR
        delay = 0.25
        while True:
            try:
                return await self.call(fn, *args, **kwargs)
            except FencedError:
                raise  # not the leader any more: no point in trying again
            except StoreError:
                if self.outage is None or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)`` — database work — on a database thread and await it."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="feedbot-db")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    @staticmethod
    def stored_version(path: Path, *, url: str | None = None) -> int | None:
        """How many revisions a database has applied now, read without writing or
        migrating (None: no database or no schema yet)."""
        if url is None or url.startswith("sqlite"):
            found = _on_disk(path if url is None else Path(database_url(url).database or ""))
        else:
            engine = create_engine(database_url(url), connect_args={"connect_timeout": 5})
            try:
                with engine.connect() as conn:
                    found = inspect_database(conn)
            except SQLAlchemyError as e:
                raise StoreError(f"{masked_url(url)}: {getattr(e, 'orig', None) or e}") from None
            finally:
                engine.dispose()
        return None if found is None or found.revision is None else found.number

    def schema_version(self) -> int:
        """The number of revisions applied to the open database."""
        return self.position().number

    def get_state(self, key: str) -> str | None:
        """The value stored under ``key``, or None."""
        with self.read() as conn:
            return conn.scalar(select(state.c.value).where(state.c.key == key))

    def set_state(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``."""
        with self.write() as conn:
            set_state(conn, key, value)


def set_state(conn: Connection, key: str, value: str) -> None:
    """Store ``value`` under ``key`` inside the caller's transaction (an upsert, so two
    processes setting a new key together do not collide)."""
    upsert = insert_on(conn, state).values(key=key, value=value)
    conn.execute(upsert.on_conflict_do_update(index_elements=[state.c.key], set_={"value": value}))
