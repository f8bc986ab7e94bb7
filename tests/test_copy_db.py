"""`feedbot migrate` and `feedbot copy-db`: a real SQLite file into a real PostgreSQL
database and back, refusal, --force, idempotence, progress, masked passwords."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from feedbot.cli import cli
from feedbot.store import SCHEMA_VERSION, Store
from feedbot.store.copy import COPIED
from tests import storekit
from tests.sitekit import article

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "Pw-0f-the-DB"  # trust auth ignores it; it must still never be printed


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{SECRET}@", 1)


def fill(store: Store, *, chats: int = 60, articles: int = 45) -> None:
    """Rows of every kind: chats (some gone, some with a language), articles (one removed),
    deliveries pending, sent, failed and retrying, the corrections the removal owes (59
    edits), and state. 2,655 deliveries: more than one copy batch."""
    for chat in range(chats):
        store.chats.subscribe(str(chat), kind="private" if chat else "group", title=f"c{chat}")
    store.chats.set_chat_language("3", "it")
    store.chats.unsubscribe("5")
    for i in range(articles):
        storekit.add(store, article(i), NOW + timedelta(minutes=i))
    storekit.remove(store, article(0).id, NOW)
    claimed = store.outbox.claim_due(NOW + timedelta(days=1), 30)
    store.outbox.mark_sent_many([(d.id, [d.id * 10], NOW, None) for d in claimed[:20]])
    store.outbox.mark_failed(claimed[20].id, 4, "Forbidden")
    store.outbox.mark_retry(claimed[21].id, 1, NOW + timedelta(minutes=5), "timed out")
    store.db.set_state("telegram.offset", "1234")


def dump(location: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every copied table, in key order."""
    store = open_at(location)
    try:
        with store.db.read() as conn:
            return {
                t.name: [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key))]
                for t in COPIED
            }
    finally:
        store.close()


def open_at(location: str) -> Store:
    if "://" in location:
        return Store.open(Path(), url=location)
    return Store.open(Path(location))


def copy(*args: str) -> Any:
    return CliRunner().invoke(cli, ["copy-db", *args])


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    path = tmp_path / "var" / "feedbot.sqlite3"
    store = Store.open(path)
    try:
        fill(store)
    finally:
        store.close()
    return str(path)


@pytest.mark.postgresql
def test_sqlite_file_to_postgresql_and_back(
    sqlite_file: str, new_pg_database: Callable[..., str], tmp_path: Path
) -> None:
    target = with_password(new_pg_database())
    result = copy("--from", sqlite_file, "--to", target)
    assert result.exit_code == 0, result.output
    source = dump(sqlite_file)
    assert len(source["deliveries"]) > 2000 and len(source["articles"]) == 45
    assert dump(target) == source  # every row, every column, the same ids
    assert SECRET not in result.output and "***" in result.output
    assert "feedbot: copying deliveries: 2655/2655" in result.output  # plain lines, no TTY
    assert (
        "copied 45 articles, 60 chats, 59 subscriptions, 2655 deliveries, 59 edits, 2 state"
        in result.output
    )

    # PostgreSQL's id sequence continues after the copied ids: a new broadcast is queued.
    store = open_at(target)
    try:
        top = max(r["id"] for r in source["deliveries"])
        storekit.add(store, article(99), NOW)
        fresh = storekit.deliveries_for(store, article(99).id)
        assert len(fresh) == 59 and min(r["id"] for r in fresh) > top
    finally:
        store.close()

    back = str(tmp_path / "back.sqlite3")  # and PostgreSQL → SQLite, by URL
    assert copy("--from", target, "--to", f"sqlite:///{back}").exit_code == 0
    assert dump(back) == dump(target)


@pytest.mark.postgresql
def test_non_empty_target_is_refused_unless_forced(
    sqlite_file: str, new_pg_database: Callable[..., str]
) -> None:
    target = with_password(new_pg_database())
    assert copy("--from", sqlite_file, "--to", target).exit_code == 0
    first = dump(target)

    again = copy("--from", sqlite_file, "--to", target)
    assert again.exit_code == 2
    assert (
        "is not empty (45 articles, 60 chats, 59 subscriptions, 2655 deliveries, 59 edits, 2 state)"
        in again.output
    )
    assert "--force" in again.output and SECRET not in again.output
    assert dump(target) == first

    store = open_at(target)  # the target drifts: a row the source does not have
    try:
        store.chats.subscribe("stray", kind="private", title=None)
    finally:
        store.close()
    forced = copy("--from", sqlite_file, "--to", target, "--force")
    assert forced.exit_code == 0, forced.output
    assert "replaced 2882 rows" in forced.output  # with the subscriptions, the stray one too
    assert dump(target) == first  # the same target as the first copy: idempotent


def test_copy_onto_itself_and_bad_locations(sqlite_file: str, tmp_path: Path) -> None:
    same = copy("--from", sqlite_file, "--to", f"sqlite:///{sqlite_file}")
    assert same.exit_code == 2 and "onto itself" in same.output
    bad = copy("--from", "mysql://u:hunter2@db/x", "--to", str(tmp_path / "t.sqlite3"))
    assert bad.exit_code == 2 and "not supported" in bad.output and "hunter2" not in bad.output


def test_migrate_creates_then_reports_up_to_date(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBOT_STORAGE__URL", database_url)
    first = CliRunner().invoke(cli, ["migrate"])
    assert first.exit_code == 0, first.output
    assert f"from nothing to schema {SCHEMA_VERSION}" in first.output
    again = CliRunner().invoke(cli, ["migrate"])
    assert again.exit_code == 0 and f"up to date (schema {SCHEMA_VERSION})" in again.output


def test_migrate_refuses_a_newer_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_at(database_url)
    try:
        with store.db.write() as conn:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    finally:
        store.close()
    monkeypatch.setenv("FEEDBOT_STORAGE__URL", with_password(database_url))
    result = CliRunner().invoke(cli, ["migrate"])
    assert result.exit_code == 2
    assert "has schema 9999, written by a newer feedbot" in result.output
    assert SECRET not in result.output
