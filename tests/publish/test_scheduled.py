"""Scheduled publication: an article dated in the future is stored, not published, until
its date; then it appears everywhere, also after a restart in between.

The store part runs on SQLite and PostgreSQL with the clock passed in; the daemon part
runs ``python -m feedbot run`` as a subprocess against the fake Bot API in real time.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from tests.botkit import TOKEN, Index
from tests.storekit import deliveries_for
from tests.telegram.test_delivery import Daemon
from tests.waiting import until

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def write(folder: Path, name: str, date: str, headline: str) -> None:
    tmp = folder / f".{name}.tmp"
    tmp.write_text(f"date {date} {headline}\n\nThe body of the article, in one sentence.\n")
    os.replace(tmp, folder / f"{name}.txt")


def test_a_future_article_is_stored_hidden_and_published_at_its_date(
    store: Store, engine: str, database_url: str, tmp_path: Path
) -> None:
    for chat in ("1", "2"):
        store.chats.subscribe(chat, kind="private", title=None)
    index = Index(tmp_path / "index", store)
    write(index.folder, "001_base", "2026-11-01", "Baseline")
    index.indexer.scan(now=T0)
    url = None if engine == "sqlite" else database_url
    other = Store.open(tmp_path / "feedbot.sqlite3", url=url)  # as another replica sees it
    try:
        other.articles.check_version()
        due = (T0 + timedelta(hours=1)).isoformat()
        write(index.folder, "002_future", due, "Tomorrow's news")
        report = index.indexer.scan(now=T0)
        assert report.new == ("002_future",) and report.created == ()
        for s in (store, other):
            assert s.articles.entry("002_future") is None and s.articles.count() == 1
            assert [e.article.id for e in s.articles.newest(0, 10)] == ["001_base"]
        assert deliveries_for(store, "002_future") == []
        assert store.articles.next_scheduled() == T0 + timedelta(hours=1)

        report = index.indexer.scan(now=T0 + timedelta(minutes=59, seconds=59))
        assert report.released == () and store.articles.entry("002_future") is None
        other.articles.check_version()  # the follower is up to date: nothing hidden moved

        report = index.indexer.scan(now=T0 + timedelta(hours=1))
        assert report.released == report.created == ("002_future",)
        assert other.articles.check_version()  # a follower sees the change …
        assert [e.article.id for e in other.articles.newest(0, 10)] == ["002_future", "001_base"]
        assert {d["chat"] for d in deliveries_for(store, "002_future")} == {"1", "2"}
        assert store.articles.next_scheduled() is None
        assert index.indexer.scan(now=T0 + timedelta(hours=2)).released == ()  # … once
    finally:
        other.close()


def scheduled(daemon: Daemon) -> int:
    """How often the daemon has set the job for the next scheduled article (its logs)."""
    return daemon.stderr().count("next scheduled article due at")


@pytest.mark.slow
def test_a_future_article_appears_on_time_and_after_a_restart(tmp_path: Path) -> None:
    fake = FakeBotAPI(TOKEN).start_in_thread()
    index = tmp_path / "index"
    index.mkdir()
    write(index, "001_base", "2026-11-01", "Baseline")
    daemon = Daemon(tmp_path, fake)

    def posts(word: str) -> list[float]:
        return [s.time for s in fake.sent if s.chat_id == 501 and word in s.text]

    def at(seconds: float) -> tuple[str, float]:
        """An ISO date ``seconds`` from now, and that moment on the fake's clock."""
        when = datetime.now(UTC) + timedelta(seconds=seconds)
        return when.isoformat(timespec="milliseconds"), time.monotonic() + seconds

    try:
        daemon.start()
        fake.command("/start", chat_id=501, language_code="en")
        until(
            daemon.running_and(lambda: len(fake.texts(501)) == 1),
            timeout=10,
            what="welcome",
            context=daemon.tail,
        )
        date, due = at(3.0)
        armed = scheduled(daemon)
        write(index, "002_timed", date, "Timed")
        until(
            daemon.running_and(lambda: scheduled(daemon) > armed),
            timeout=10,
            what="the timed article scheduled",
            context=daemon.tail,
        )
        assert posts("Timed") == []  # seen (the watcher scanned it), not published
        until(
            daemon.running_and(lambda: posts("Timed")),
            timeout=10,
            what="the timed post",
            context=daemon.tail,
        )
        [sent] = posts("Timed")
        assert due <= sent < due + 1.0, sent - due

        # Scheduled, then the daemon stops and misses the moment: the start publishes it.
        date, due = at(2.0)
        armed = scheduled(daemon)
        write(index, "003_later", date, "Later")
        until(
            daemon.running_and(lambda: scheduled(daemon) > armed),
            timeout=10,
            what="the later article scheduled",
            context=daemon.tail,
        )
        daemon.stop()
        time.sleep(max(0.0, due - time.monotonic()) + 0.5)
        assert posts("Later") == []
        daemon.start()
        until(
            daemon.running_and(lambda: posts("Later")),
            timeout=10,
            what="the post due during the restart",
            context=daemon.tail,
        )
    finally:
        daemon.stop()
        fake.stop_thread()
