"""PostgreSQL restarted under a running `feedbot run`, and the database password kept out
of everything the daemon says. Real processes: the daemon, a throwaway PostgreSQL server
of the test's own (never the shared one), the fake Bot API."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from tests.botkit import TOKEN
from tests.daemonkit import Daemon
from tests.pgserver import ThrowawayServer
from tests.replicakit import Corpus
from tests.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

SECRET = "pg-S3cret-" + "w0rd"  # the database password; must never be printed
CHATS = list(range(3000, 3150))


@pytest.fixture
def pg() -> Iterator[ThrowawayServer]:
    with ThrowawayServer(password=SECRET) as server:
        yield server


def start_daemon(tmp_path: Path, url: str, fake: FakeBotAPI) -> Daemon:
    daemon = Daemon(
        tmp_path,
        {
            "FEEDBOT_INDEX__PATH": str(tmp_path / "index"),
            "FEEDBOT_INDEX__SETTLE_MS": "50",
            "FEEDBOT_INDEX__SCAN_INTERVAL": "2",
            "FEEDBOT_STORAGE__URL": url,
            "FEEDBOT_HTTP__PORT": "0",
            "FEEDBOT_LOG__LEVEL": "DEBUG",
            "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
            "FEEDBOT_TELEGRAM__API_BASE_URL": fake.base_url,
        },
    )
    daemon.wait_started()
    return daemon


def health(daemon: Daemon) -> httpx.Response:
    return daemon.get("healthz")


def test_postgresql_restart_under_a_running_daemon(pg: ThrowawayServer, tmp_path: Path) -> None:
    """Mid-broadcast the server stops for 3 s: the daemon says so once in its log and on
    /healthz (503), reconnects, and every chat gets every post; duplicates at most the
    sends in flight; no crash, no restart of the daemon."""
    url = pg.server.url()
    index = Corpus(tmp_path / "index", count=40, seed=11)
    index.drop()  # the baseline
    store = Store.open(tmp_path / "unused.sqlite3", url=url)
    try:
        for chat in CHATS:
            store.chats.subscribe(str(chat), kind="private", title=None)
    finally:
        store.close()
    fake = FakeBotAPI(TOKEN).start_in_thread()
    daemon = start_daemon(tmp_path, url, fake)
    try:
        until(lambda: health(daemon).status_code == 200, what="healthy at start")
        during = index.drop()

        def got(article: str) -> Counter[int]:
            return Counter(s.chat_id for s in fake.sent if f"articles/{article}.html" in s.text)

        until(lambda: sum(got(during).values()) >= 30, timeout=20, what="30 posts")
        pg.stop("fast")  # closes every connection, as a restart does
        assert sum(got(during).values()) < len(CHATS), "the broadcast finished: nothing tested"
        down = until(
            lambda: (r := health(daemon)).status_code == 503 and r, timeout=15, what="a 503"
        )
        assert down.json()["status"] == "database unreachable"
        assert down.json()["database_error"] and SECRET not in down.text
        before = down.json()["last_scan"]
        after = index.drop()  # a new article, and a scan that fails, while the server is down
        until(lambda: health(daemon).json()["last_scan"] != before, what="a failed scan")
        pg.start()

        until(lambda: health(daemon).status_code == 200, timeout=30, what="healthy again")
        for article in (during, after):
            until(lambda a=article: set(got(a)) == set(CHATS), timeout=40, what=f"{article}")
        copies = got(during)
        assert sum(n - 1 for n in copies.values()) <= 64, copies  # only sends in flight
        assert set(got(after).values()) == {1}
        assert daemon.proc.poll() is None
    finally:
        if daemon.proc.poll() is None:
            assert daemon.stop()[0] == 0
        daemon.kill()
        fake.stop_thread()
    log = daemon.log
    assert len(re.findall(r"database unreachable", log)) == 1, log[-4000:]
    assert len(re.findall(r"database reachable again", log)) == 1
    assert "Traceback" not in log, log[-4000:]
    assert SECRET not in log


def test_the_password_never_appears(pg: ThrowawayServer, tmp_path: Path) -> None:
    """A wrong password and an unreachable server: the daemon refuses to start with a
    one-line error, and neither its stderr nor its messages hold the password."""
    index = Corpus(tmp_path / "index", count=40, seed=11)
    index.drop()
    wrong = pg.server.url().replace(SECRET, SECRET[::-1])
    unreachable = pg.server.url().replace(f":{pg.port}/", ":1/")
    logs = {}
    for url in (wrong, unreachable):
        daemon = Daemon(tmp_path, {"FEEDBOT_INDEX__PATH": str(index.folder),
                                   "FEEDBOT_STORAGE__URL": url})  # fmt: skip
        assert daemon.proc.wait(30) == 2
        daemon.kill()
        logs[url] = daemon.log
        assert "feedbot: error:" in daemon.log and "***" in daemon.log, daemon.log
        assert SECRET not in daemon.log and SECRET[::-1] not in daemon.log, daemon.log
    assert "password authentication failed" in logs[wrong]
    assert "Connection refused" in logs[unreachable] or "connect" in logs[unreachable]
