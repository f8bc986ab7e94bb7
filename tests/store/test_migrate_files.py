"""Migrations without Alembic where it is not needed, held to what Alembic does.

`feedbot.store.migrate.revisions` reads ``versions/`` without Alembic, and a new SQLite
database is made from ``head.sqlite.sql``, so that a daemon on SQLite imports Alembic
only to migrate an older database. These tests hold the names and the file to what
the revisions make, and check in a fresh interpreter what opening a database loads.
After adding a revision, ``python -m tests.store.test_migrate_files`` rewrites the file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from feedbot.store import Store, migrate
from feedbot.store.migrate import (
    SQLITE_HEAD,
    VERSIONS,
    Position,
    head,
    revisions,
    sqlite_head_file,
    sqlite_schema,
    upgrade,
)
from tests.storekit import at_revision

ROOT = Path(__file__).resolve().parents[2]

OPEN = """
import sys
from pathlib import Path
from feedbot.store import Store
Store.open(Path(sys.argv[1])).close()
heavy = ("alembic", "mako", "sqlalchemy.dialects.postgresql")
print(sorted({m.split(".")[0] for m in sys.modules if m.startswith(heavy) and sys.modules[m]}))
"""


def test_the_names_list_alembics_revisions_oldest_first() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(VERSIONS.parent), version_locations=[str(VERSIONS)])
    walked = [(r.revision, r.down_revision) for r in script.walk_revisions()]
    assert revisions() == tuple(reversed([revision for revision, _ in walked]))
    assert [down for _, down in reversed(walked)] == [None, *revisions()[:-1]]
    names = sorted(p.name for p in VERSIONS.glob("r*.py"))
    assert [n[1:5] for n in names] == list(revisions())  # every file has an rNNNN_ name


def _made_by_the_revisions() -> str:
    """``head.sqlite.sql`` as it should read: the schema Alembic's run of every revision
    leaves in a new SQLite database."""
    with create_engine("sqlite://").begin() as conn:
        upgrade(conn, Position(None, True), snapshot=False)
        return sqlite_head_file(sqlite_schema(conn))


def _everything(conn: Connection) -> list[tuple[object, ...]]:
    """The whole schema as SQLite records it, and the version rows."""
    master = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
    return [
        *(tuple(r) for r in conn.execute(text(master))),
        *(tuple(r) for r in conn.execute(text("SELECT * FROM alembic_version"))),
        *(tuple(r) for r in conn.execute(text("SELECT * FROM schema_version"))),
    ]


def test_the_schema_file_is_what_the_revisions_make() -> None:
    expected = _made_by_the_revisions()
    assert all(";" not in statement for statement in expected.split(";\n")[:-1])
    assert expected.startswith(f"-- revision {head()}\n")
    assert SQLITE_HEAD.read_text(encoding="utf-8") == expected, (
        "python -m tests.store.test_migrate_files rewrites feedbot/store/head.sqlite.sql"
    )


def test_a_new_sqlite_database_is_the_one_the_revisions_make(tmp_path: Path) -> None:
    Store.open(tmp_path / "feedbot.sqlite3").close()
    made = create_engine(f"sqlite:///{tmp_path / 'feedbot.sqlite3'}")
    migrated = create_engine("sqlite://")
    try:
        with made.connect() as conn, migrated.begin() as other:
            upgrade(other, Position(None, True), snapshot=False)
            assert _everything(conn) == _everything(other)
            assert conn.scalar(text("SELECT version_num FROM alembic_version")) == head()
    finally:
        made.dispose()
        migrated.dispose()


def test_a_schema_file_of_another_revision_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A revision added without rewriting the file: new databases are made by Alembic."""
    stale = tmp_path / "head.sqlite.sql"
    stale.write_text("-- revision 0000\nCREATE TABLE stale (x);\n", encoding="utf-8")
    monkeypatch.setattr(migrate, "SQLITE_HEAD", stale)
    test_a_new_sqlite_database_is_the_one_the_revisions_make(tmp_path)  # no table "stale"


def _imports_on_open(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OPEN, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_a_sqlite_database_opens_without_alembic_unless_it_migrates(tmp_path: Path) -> None:
    path = tmp_path / "feedbot.sqlite3"
    assert _imports_on_open(path) == "[]"  # new: made from the file
    assert _imports_on_open(path) == "[]"  # up to date: only read
    older = tmp_path / "older.sqlite3"
    with at_revision(f"sqlite:///{older}", revisions()[-2]):
        pass
    assert _imports_on_open(older) != "[]"  # migrated by Alembic
    store = Store.open(older)
    try:
        assert store.db.position().current
    finally:
        store.close()


if __name__ == "__main__":
    SQLITE_HEAD.write_text(_made_by_the_revisions(), encoding="utf-8")
