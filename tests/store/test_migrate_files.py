"""The revision list read from the files' names, and what opening a database imports.

`feedbot.store.migrate.revisions` reads ``versions/`` without Alembic, so that a daemon
on an up-to-date database never imports it: these tests hold the names to what Alembic
reads in the files, and check in a fresh interpreter what opening a database loads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from feedbot.store import Store
from feedbot.store.migrate import VERSIONS, revisions

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


def _imports_on_open(path: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-c", OPEN, str(path)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_an_up_to_date_database_opens_without_alembic(tmp_path: Path) -> None:
    path = tmp_path / "feedbot.sqlite3"
    assert _imports_on_open(path) != "[]"  # a new database is made by the migrations
    store = Store.open(path)
    try:
        assert store.db.position().current
    finally:
        store.close()
    assert _imports_on_open(path) == "[]"  # neither Alembic nor PostgreSQL's dialect
