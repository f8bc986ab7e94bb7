"""`feedbot.runtime.health.failure_kind`: what /healthz says of an error holds no configuration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from feedbot.errors import StoreError
from feedbot.runtime.health import failure_kind
from feedbot.store import Store


def store_error_from_a_real_database(tmp_path: Path) -> StoreError:
    store = Store.open(tmp_path / "secret-name.sqlite3")
    try:
        with pytest.raises(StoreError) as caught, store.db.write() as conn:
            conn.exec_driver_sql("SELECT * FROM no_such_table_here")
    finally:
        store.close()
    return caught.value


def test_kinds(tmp_path: Path) -> None:
    error = store_error_from_a_real_database(tmp_path)
    assert "secret-name" in str(error)  # the message names the file ...
    assert failure_kind(error) == "database error (OperationalError)"  # ... the kind does not
    try:
        (tmp_path / "private" / "x").read_text()
    except OSError as e:
        missing = e
    assert str(tmp_path) in str(missing)
    assert failure_kind(missing) == "FileNotFoundError (No such file or directory)"
    assert failure_kind(StoreError("postgresql://u@h:5/db: gone")) == "database error"
    assert failure_kind(ValueError("/etc/feedbot.toml: bad")) == "ValueError"
    assert failure_kind(sqlite3.DatabaseError("file is not a database")) == "DatabaseError"
