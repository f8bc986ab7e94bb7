"""The store's named operations for what callers used to ask SQLAlchemy or psycopg:
``storage.url`` pieces (`feedbot.store.urls`) and the change listener
(`Store.change_listener`, `feedbot.store.listen`) on a real PostgreSQL database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feedbot.articles.parse import parse
from feedbot.errors import StoreError
from feedbot.store import Store
from feedbot.store.urls import database_url, libpq_url, masked_url, sqlite_file, url_password
from tests import storekit
from tests.waiting import until

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "password"),
    [
        ("postgresql+psycopg://feedbot:s3cret@db/feedbot", "s3cret"),
        ("postgresql://feedbot@db/feedbot", None),
        ("sqlite:///var/feedbot.sqlite3", None),
        ("not a url", None),
    ],
)
def test_url_password(url: str, password: str | None) -> None:
    assert url_password(url) == password


def test_sqlite_file() -> None:
    assert sqlite_file("sqlite:///var/feedbot.sqlite3") == Path("var/feedbot.sqlite3")
    assert sqlite_file("sqlite:////data/feedbot.sqlite3") == Path("/data/feedbot.sqlite3")
    with pytest.raises(StoreError, match=r"storage\.url is not a database URL"):
        sqlite_file("sqlite")  # SQLAlchemy's ArgumentError does not leave the store


def test_database_and_libpq_urls() -> None:
    parsed = database_url("postgresql://feedbot:s3cret@db:5433/feedbot")
    assert parsed.drivername == "postgresql+psycopg"
    assert libpq_url(parsed) == "postgresql://feedbot:s3cret@db:5433/feedbot"
    assert masked_url(parsed) == "postgresql+psycopg://feedbot:***@db:5433/feedbot"
    assert masked_url("not a url") == "<unparsable database URL>"
    with pytest.raises(StoreError, match="'mysql' databases are not supported"):
        database_url("mysql://db/feedbot")
    with pytest.raises(StoreError, match="not a database URL"):
        database_url("sqlite")


@pytest.mark.postgresql
def test_change_listener_hears_what_another_store_commits(pg_url: str, tmp_path: Path) -> None:
    here = Store.open(tmp_path / "unused.sqlite3", url=pg_url)
    there = Store.open(tmp_path / "unused.sqlite3", url=pg_url)
    connected = threading.Event()
    listener = here.change_listener(on_connect=connected.set)
    try:
        listener.start()
        assert connected.wait(10), "the listener never connected"
        assert listener.connected
        before = here.articles.version
        text = "date 2022-01-14 Headline number 1.\n\nA first paragraph that says something.\n"
        storekit.add(there, parse(f"001_{1:016x}.txt", text.encode()), NOW)
        until(lambda: here.articles.version > before, what="the listener to hear the commit")
    finally:
        listener.stop()
        here.close()
        there.close()
    assert not listener.connected
