"""Copying one database into another (``feedbot copy-db``), e.g. a SQLite file into
PostgreSQL.

Both ends are opened (and so migrated) by this feedbot, so their tables match. The
source is read in one snapshot; the target is written in one transaction: a copy
that fails or is interrupted leaves the target as it was, and the same source copied
again gives the same target. Rows keep their ids; PostgreSQL's sequence behind
``deliveries.id`` is moved past the copied ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Table, delete, func, insert, make_url, select, text
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from feedbot.errors import StoreError
from feedbot.store.engine import Database
from feedbot.store.lease import Lease
from feedbot.store.schema import articles, chats, deliveries, edits, state, subscriptions

__all__ = [
    "COPIED",
    "CopyReport",
    "NotEmptyError",
    "Progress",
    "copy_database",
    "leader_of",
    "open_location",
    "sqlite_file",
]

# parents before children
COPIED: tuple[Table, ...] = (articles, chats, subscriptions, deliveries, edits, state)
BATCH = 2000  # rows per read and per insert: memory stays flat for any size

Progress = Callable[[str, int, int], None]  # table, rows copied so far, rows in all


class NotEmptyError(StoreError):
    """The target already holds rows (``--force`` replaces them)."""


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What was copied: rows per table, and how many target rows were replaced."""

    rows: dict[str, int]
    replaced: int


def open_location(location: str) -> Database:
    """Open (and migrate) a database named by a URL or, for SQLite, a plain file path."""
    if "://" in location:
        return Database.open(Path(), url=location)
    return Database.open(Path(location))


def sqlite_file(location: str) -> Path | None:
    """The SQLite file ``location`` names (a path or a ``sqlite:///`` URL); None for a
    server's URL (or one that does not parse: `open_location` says what is wrong)."""
    if "://" not in location:
        return Path(location)
    try:
        url = make_url(location)
    except ArgumentError:
        return None
    return Path(url.database or "") if url.get_backend_name() == "sqlite" else None


def leader_of(db: Database) -> str | None:
    """The replica that holds ``db``'s leader lease now (None when nobody does): on
    PostgreSQL, replicas are running on it."""
    if db.dialect != "postgresql":
        return None
    view = Lease(db).view()
    return view.holder if view.live else None


def copy_database(
    source: Database, target: Database, *, force: bool = False, progress: Progress | None = None
) -> CopyReport:
    """Copy every row of `COPIED` from ``source`` into ``target``.

    Raises `NotEmptyError` when the target holds rows and ``force`` is false; with
    ``force`` they are deleted first, in the same transaction as the copy."""
    if source.name == target.name:
        raise StoreError(f"{source.name}: cannot copy a database onto itself")
    with _snapshot(source) as reader:
        totals = _counts(reader)
        with target.write() as writer:
            present = _counts(writer)
            replaced = sum(present.values())
            if replaced and not force:
                held = ", ".join(f"{n} {name}" for name, n in present.items() if n)
                raise NotEmptyError(
                    f"{target.name} is not empty ({held}); "
                    "copy into an empty database, or pass --force to replace what it holds"
                )
            for table in reversed(COPIED):
                writer.execute(delete(table))
            for table in COPIED:
                _copy_table(reader, writer, table, totals[table.name], progress)
            if writer.dialect.name == "postgresql":
                _reset_sequence(writer, deliveries)
    return CopyReport(totals, replaced)


@contextmanager
def _snapshot(db: Database) -> Iterator[Connection]:
    """One read transaction that sees the database as it was when it began."""
    try:
        with db.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
    except SQLAlchemyError as e:
        raise StoreError(f"{db.name}: {getattr(e, 'orig', None) or e}") from e


def _copy_table(
    reader: Connection, writer: Connection, table: Table, total: int, progress: Progress | None
) -> None:
    key = list(table.primary_key.columns) or list(table.columns)
    rows = reader.execution_options(stream_results=True, yield_per=BATCH).execute(
        select(table).order_by(*key)
    )
    done = 0
    if progress is not None:
        progress(table.name, done, total)
    for batch in rows.partitions(BATCH):
        writer.execute(insert(table), [dict(row._mapping) for row in batch])
        done += len(batch)
        if progress is not None:
            progress(table.name, done, total)


def _counts(conn: Connection) -> dict[str, int]:
    return {t.name: int(conn.scalar(select(func.count()).select_from(t)) or 0) for t in COPIED}


def _reset_sequence(conn: Connection, table: Table) -> None:
    """The next id PostgreSQL hands out follows the highest copied one."""
    top = conn.scalar(select(func.max(table.c.id)))
    sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name})
    conn.execute(text("SELECT setval(:s, :n, false)"), {"s": sequence, "n": int(top or 0) + 1})
