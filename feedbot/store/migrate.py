"""Migrations with Alembic, driven from code (no ``alembic.ini``, no ``env.py``).

Revisions live in ``feedbot/store/versions/`` (``r0001_initial.py``, …), written by
hand, one linear history. A database's version is the revision in its
``alembic_version`` table; a database written before Alembic has only the one-row
``schema_version`` table of feedbot 0.1, and is adopted as revision 0001 (its
schema is exactly 0001's). ``schema_version`` is kept at the number of revisions
applied so that older releases, which read it, refuse a database that moved on.

`inspect` reads where a database stands without writing anything; `Database`
refuses a database newer than this code before any write and runs `upgrade`
inside its write transaction. Alembic is imported by `upgrade` only: a daemon
started on an up-to-date database never loads it (nor, through it, every dialect
SQLAlchemy has — some 7 MB of the daemon's memory); `revisions` reads the revision
files' names. A new SQLite database does not need it either: its schema is made by
the statements of ``head.sqlite.sql``, the schema the revisions leave, as SQLite
itself records it (`sqlite_schema`). tests/store/test_migrate_files.py holds the file
to what the revisions make; after adding one, ``python -m tests.store.test_migrate_files``
rewrites it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, insert, inspect, select, text

from feedbot.store.schema import metadata, schema_version

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

__all__ = [
    "Position",
    "head",
    "inspect_database",
    "revisions",
    "sqlite_head_file",
    "sqlite_schema",
    "upgrade",
]

log = logging.getLogger(__name__)

VERSIONS = Path(__file__).with_name("versions")
SQLITE_HEAD = Path(__file__).with_name("head.sqlite.sql")  # a new SQLite database's schema
LEGACY = {1: "0001"}  # schema_version of feedbot 0.1 -> the revision it equals


@cache
def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(VERSIONS.parent), version_locations=[str(VERSIONS)])


@cache
def revisions() -> tuple[str, ...]:
    """Every revision, oldest first: ``r0007_search.py`` holds revision ``0007``, whose
    ``down_revision`` is ``0006`` (tests/store/test_migrate_files.py holds Alembic to it)."""
    return tuple(sorted(p.name[1:5] for p in VERSIONS.glob("r[0-9][0-9][0-9][0-9]_*.py")))


def head() -> str:
    """The newest revision this code knows."""
    return revisions()[-1]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a database stands."""

    revision: str | None  # None: an empty database
    known: bool  # False: written by a newer feedbot
    legacy: bool = False  # only feedbot 0.1's schema_version table (no alembic_version yet)

    @property
    def number(self) -> int:
        """1-based position in `revisions` (0: empty; past the end: unknown, newer)."""
        if self.revision is None:
            return 0
        if not self.known:
            return len(revisions()) + 1
        return revisions().index(self.revision) + 1

    @property
    def current(self) -> bool:
        return self.known and self.revision == head() and not self.legacy


def inspect_database(conn: Connection) -> Position:
    """Where the database on ``conn`` stands (reads only)."""
    tables = set(inspect(conn).get_table_names())
    if "alembic_version" in tables:
        found = conn.scalar(text("SELECT max(version_num) FROM alembic_version"))
        return Position(found, found is None or found in revisions())
    if "schema_version" in tables:
        legacy = conn.scalar(select(func.max(schema_version.c.version))) or 0
        if legacy == 0:
            return Position(None, True)
        revision = LEGACY.get(int(legacy))
        return Position(revision or f"schema_version {legacy}", revision is not None, True)
    return Position(None, True)


def sqlite_schema(conn: Connection) -> list[str]:
    """The statements that make the schema of the SQLite database on ``conn``, in the
    order SQLite made it; the tables SQLite makes by itself are left out (its own, and
    the shadow tables of a virtual table)."""
    found = conn.execute(
        text("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
    ).all()
    virtual = [f"{name}_" for name, sql in found if sql.startswith("CREATE VIRTUAL TABLE")]
    return [sql for name, sql in found if not name.startswith(("sqlite_", *virtual))]


def sqlite_head_file(statements: list[str]) -> str:
    """``head.sqlite.sql`` for the head revision whose schema ``statements`` make."""
    return f"-- revision {head()}\n" + ";\n".join(statements) + ";\n"


def _create_sqlite(conn: Connection) -> bool:
    """Make a new SQLite database at the head revision from ``head.sqlite.sql``; False
    (nothing done) when the file is of another revision."""
    first, _, statements = SQLITE_HEAD.read_text(encoding="utf-8").partition("\n")
    if first != f"-- revision {head()}":
        return False
    log.debug("creating the database schema (%s)", head())
    for statement in statements.split(";\n"):
        if statement.strip():
            conn.exec_driver_sql(statement)
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head()})
    conn.execute(insert(schema_version).values(version=len(revisions())))
    return True


def upgrade(conn: Connection, position: Position, *, snapshot: bool = True) -> None:
    """Apply every revision after ``position`` on ``conn`` (in the caller's transaction);
    a new SQLite database from ``head.sqlite.sql`` unless ``snapshot`` is false."""
    new_sqlite = conn.dialect.name == "sqlite" and not inspect(conn).get_table_names()
    if snapshot and new_sqlite and _create_sqlite(conn):  # what the revisions make, no Alembic
        return
    from alembic.config import Config
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext

    script = _script()
    if position.revision is None:
        log.debug("creating the database schema (%s)", head())
    else:
        log.info("migrating the database from schema %s to %s", position.revision, head())
    if position.legacy and position.revision is not None:
        MigrationContext.configure(conn).stamp(script, position.revision)

    def steps(rev: Any, context: Any) -> Any:
        return script._upgrade_revs("head", rev)

    with EnvironmentContext(Config(), script, fn=steps, destination_rev="head") as env:
        env.configure(connection=conn, target_metadata=metadata)
        env.run_migrations()
    conn.execute(schema_version.delete())
    conn.execute(insert(schema_version).values(version=len(revisions())))
