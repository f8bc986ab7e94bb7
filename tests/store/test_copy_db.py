"""`feedbot migrate` and `feedbot copy-db`: a real SQLite file into a real PostgreSQL
database and back, refusal, --force, idempotence, progress, masked passwords."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from feedbot.cli import cli
from feedbot.store import SCHEMA_VERSION, Lease, Store
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
    store.outbox.finish_many([(d.id, [d.id * 10], NOW, None) for d in claimed[:20]])
    store.outbox.fail(claimed[20].id, 4, "Forbidden")
    store.outbox.retry(claimed[21].id, 1, NOW + timedelta(minutes=5), "timed out")
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


# --- copy-db refuses a database a daemon is using -------------------------------------------------


def only_error(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("feedbot: error:")]
    assert len(errors) == 1, output
    return errors[0]


def test_a_database_a_running_daemon_uses_is_refused_unless_live(
    sqlite_file: str, tmp_path: Path, start: Callable[..., Any]
) -> None:
    """A real `feedbot run` on the source: the copy is refused with the daemon's pid and
    writes nothing; --live copies and warns what can go out twice; a copy into the
    daemon's database is refused even with --live; once it stops, the copy runs."""
    index = tmp_path / "index"
    index.mkdir()
    env = {"FEEDBOT_INDEX__PATH": str(index), "FEEDBOT_STORAGE__PATH": sqlite_file}
    daemon = start({**env, "FEEDBOT_HTTP__PORT": "0"})
    daemon.wait_started(timeout=30)
    pid = daemon.proc.pid
    target = tmp_path / "copy" / "feedbot.sqlite3"

    refused = copy("--from", sqlite_file, "--to", str(target))
    assert refused.exit_code == 2
    line = only_error(refused.output)
    assert f"running feedbot (pid {pid})" in line and "--live" in line and "again" in line
    assert not target.exists() and not target.parent.exists()  # nothing was written

    live = copy("--from", sqlite_file, "--to", str(target), "--live")
    assert live.exit_code == 0, live.output
    warning = [x for x in live.output.splitlines() if x.startswith("feedbot: warning:")]
    assert len(warning) == 1 and f"feedbot pid {pid}" in warning[0]
    assert "sends them again" in warning[0]
    assert len(dump(str(target))["chats"]) == 60

    into = copy("--from", str(target), "--to", sqlite_file, "--force", "--live")
    assert into.exit_code == 2
    assert f"running feedbot (pid {pid})" in only_error(into.output)
    assert daemon.alive and daemon.get("healthz").status_code == 200

    assert daemon.stop()[0] == 0
    after = copy("--from", sqlite_file, "--to", str(target), "--force")
    assert after.exit_code == 0, after.output
    assert "warning" not in after.output
    assert dump(str(target)) == dump(sqlite_file)


def test_a_daemon_cannot_start_on_a_database_being_copied(
    sqlite_file: str, tmp_path: Path, start: Callable[..., Any]
) -> None:
    """The copy holds the one-daemon lock of both files while it runs."""
    from feedbot.store.copyguard import lock_ends

    target = tmp_path / "t.sqlite3"
    locks, warnings = lock_ends(sqlite_file, str(target), live=False)
    try:
        assert warnings == []
        index = tmp_path / "index"
        index.mkdir()
        for database in (sqlite_file, str(target)):
            env = {"FEEDBOT_INDEX__PATH": str(index), "FEEDBOT_STORAGE__PATH": database}
            line = start({**env, "FEEDBOT_HTTP__PORT": "0"}).refused()
            assert f"(pid {os.getpid()})" in line
    finally:
        for lock in locks:
            lock.release()


def test_a_missing_source_file_is_refused_not_created(tmp_path: Path, sqlite_file: str) -> None:
    missing = tmp_path / "typo.sqlite3"
    result = copy("--from", str(missing), "--to", sqlite_file, "--force")
    assert result.exit_code == 2 and "no such database file" in only_error(result.output)
    assert not missing.exists()
    assert len(dump(sqlite_file)["chats"]) == 60  # the target was not emptied


@pytest.mark.postgresql
def test_a_postgresql_database_with_a_live_leader_is_refused_unless_live(
    sqlite_file: str, new_pg_database: Callable[..., str], tmp_path: Path
) -> None:
    url = with_password(new_pg_database())
    assert copy("--from", sqlite_file, "--to", url).exit_code == 0
    store = open_at(url)
    try:
        assert Lease(store.db).acquire("web-1", 60) is not None  # a replica leads
        back = tmp_path / "back.sqlite3"
        refused = copy("--from", url, "--to", str(back))
        assert refused.exit_code == 2
        assert "replica 'web-1'" in only_error(refused.output) and SECRET not in refused.output
        live = copy("--from", url, "--to", str(back), "--live")
        assert live.exit_code == 0 and "sends them again" in live.output
        into = copy("--from", sqlite_file, "--to", url, "--force", "--live")
        assert into.exit_code == 2 and "stop them before copying into it" in into.output
    finally:
        store.close()


def test_other_spellings_of_a_database_in_use_are_refused(
    sqlite_file: str, tmp_path: Path, start: Callable[..., Any]
) -> None:
    """A link to the daemon's file, a sqlite:/// URL, and the same file as both ends."""
    index = tmp_path / "index"
    index.mkdir()
    env = {"FEEDBOT_INDEX__PATH": str(index), "FEEDBOT_STORAGE__PATH": sqlite_file}
    daemon = start({**env, "FEEDBOT_HTTP__PORT": "0"})
    daemon.wait_started(timeout=30)
    link = tmp_path / "link.sqlite3"
    link.symlink_to(sqlite_file)
    target = str(tmp_path / "t.sqlite3")
    for source in (str(link), f"sqlite:///{sqlite_file}"):
        refused = copy("--from", source, "--to", target)
        assert refused.exit_code == 2
        assert f"(pid {daemon.proc.pid})" in only_error(refused.output)
    assert daemon.stop()[0] == 0
    same = copy("--from", str(link), "--to", sqlite_file, "--force")
    assert same.exit_code == 2 and "onto itself" in only_error(same.output)
    assert len(dump(sqlite_file)["chats"]) == 60


def test_a_planted_link_as_the_lock_file_is_not_followed(sqlite_file: str, tmp_path: Path) -> None:
    """Someone who can write the database's folder links ``<db>.lock`` to another file:
    `copy-db` (run by root, say) must not truncate that file to write its pid."""
    victim = tmp_path / "precious.conf"
    victim.write_text("keep me\n")
    Path(f"{sqlite_file}.lock").symlink_to(victim)
    result = copy("--from", sqlite_file, "--to", str(tmp_path / "t.sqlite3"))
    assert result.exit_code == 2 and "cannot create the lock file" in only_error(result.output)
    assert victim.read_text() == "keep me\n"
