"""`feedbot run` end to end: a real subprocess on a temp index, database and free port."""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from feedbot.store import Store
from tests.daemonkit import Daemon, atomic_write, entries
from tests.storekit import off_loop
from tests.waiting import until

pytestmark = pytest.mark.slow

ARTICLE = "date 2022-01-{day:02d} {headline}.\n\n{body}\n"


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    index = tmp_path / "index"
    index.mkdir()
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__PATH": str(tmp_path / "var" / "db.sqlite3"),
        "FEEDBOT_HTTP__PORT": "0",
        "FEEDBOT_INDEX__SETTLE_MS": "400",
        "FEEDBOT_LOG__LEVEL": "DEBUG",
    }
    return index, env


@contextlib.contextmanager
def kept_fresh(path: Path) -> Iterator[None]:
    """Touch ``path`` every 20 ms until the block ends."""
    done = threading.Event()

    def touch() -> None:
        while not done.wait(0.02):
            os.utime(path)

    thread = threading.Thread(target=touch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def unsettled_scans(d: Daemon) -> int:
    """Scans so far that found a file still being written (logged at DEBUG)."""
    return len(re.findall(r"scan \(\w+\): .* [1-9]\d* unsettled", d.log))


def test_lifecycle(tree: tuple[Path, dict[str, str]], start: Callable[..., Daemon]) -> None:
    index, env = tree
    atomic_write(index, "001_base.txt", ARTICLE.format(day=1, headline="Base", body="Old news."))
    d = start(env)
    d.wait_started()
    assert "001_base" in entries(d)
    assert d.get("healthz").json()["status"] == "ok"

    # an atomic write appears
    atomic_write(index, "002_new.txt", ARTICLE.format(day=2, headline="Fresh", body="New news."))
    until(lambda: "002_new" in entries(d), what="the atomic write in the feed")

    # a slow write in chunks appears only when complete: after each chunk, once a scan
    # has seen the file and waited for it, it is not in the feed. A thread keeps the
    # file's mtime fresh, as a writer that is still writing does, so however slowly this
    # test runs the file never looks settled before it is closed.
    path = index / "003_slow.txt"
    chunks = ["date 2022-01-03 Slow headline.\n\n", "First paragraph.\n\n", "Last paragraph.\n"]
    with path.open("w", encoding="utf-8") as fh, kept_fresh(path):
        for chunk in chunks:
            fh.write(chunk)
            fh.flush()
            waited = unsettled_scans(d)
            until(lambda w=waited: unsettled_scans(d) > w, what="a scan that waits for it")
            assert "003_slow" not in entries(d), "a half-written file was published"
    done = until(lambda: entries(d).get("003_slow"), what="the slow write in the feed")
    assert "Last paragraph" in done.content[0].value

    # an edit updates the entry: same id, later updated
    before = entries(d)["002_new"]
    atomic_write(index, "002_new.txt", ARTICLE.format(day=2, headline="Fresh", body="Edited."))
    after = until(
        lambda: (e := entries(d)["002_new"]) and "Edited" in e.content[0].value and e,
        what="the edit",
    )
    assert after.id == before.id and after.updated_parsed > before.updated_parsed

    # a removal drops it
    (index / "002_new.txt").unlink()
    until(lambda: "002_new" not in entries(d), what="the removal")
    assert d.get("articles/002_new.html").status_code == 404

    # a bad file shows in /healthz; the daemon stays up
    atomic_write(index, "004_bad.txt", "there is no date line in this file\n")
    health = until(lambda: (h := d.get("healthz").json())["bad_files"] == 1 and h, what="bad")
    assert health["bad"][0].startswith("004_bad.txt:1: ")  # relative to the index
    assert d.get("healthz").status_code == 200
    assert "feedbot_bad_files 1.0" in d.get("metrics").text
    assert set(entries(d)) == {"001_base", "003_slow"}
    assert d.log.count("004_bad.txt:1:") == 1  # warned once, not on every scan

    feed = d.get("feed.atom").content
    code, seconds = d.stop()
    assert code == 0, d.log
    assert seconds < 10
    assert "Traceback" not in d.log

    # a restart neither re-adds nor re-dates anything
    d2 = start(env)
    d2.wait_started()
    assert d2.get("feed.atom").content == feed
    assert "0 new, 0 changed, 0 removed" in d2.log
    code, _ = d2.stop()
    assert code == 0


def test_newer_schema_refuses_to_start(
    tree: tuple[Path, dict[str, str]], start: Callable[..., Daemon]
) -> None:
    _, env = tree
    db = Path(env["FEEDBOT_STORAGE__PATH"])
    db.parent.mkdir()
    Store.open(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999'")
    raw.close()
    before = db.read_bytes()
    d = start(env)
    assert d.proc.wait(timeout=30) == 2
    d.finish_log()
    assert d.log.count("\n") == 1, d.log
    assert "schema 9999, written by a newer feedbot" in d.log and "upgrade feedbot" in d.log
    assert db.read_bytes() == before


def _said(log: str) -> int:
    """Lines of the log above DEBUG (the test daemons log at DEBUG)."""
    return sum(1 for line in log.splitlines() if " DEBUG " not in line)


def test_port_in_use_and_unreadable_index(
    tree: tuple[Path, dict[str, str]], start: Callable[..., Daemon], tmp_path: Path
) -> None:
    _, env = tree
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        d = start({**env, "FEEDBOT_HTTP__PORT": str(port)})
        assert d.proc.wait(timeout=30) == 2
    d.finish_log()
    assert "port in use" in d.log and _said(d.log) == 1, d.log

    d = start({**env, "FEEDBOT_INDEX__PATH": str(tmp_path / "missing")})
    assert d.proc.wait(timeout=30) == 2
    d.finish_log()
    assert "cannot read the index" in d.log and _said(d.log) == 1, d.log


# --- in process: health states and the component hook ---------------------------------------


class Recorder:
    """A stand-in for the bot component: records what the daemon asks of it."""

    def __init__(self) -> None:
        self.woken = 0
        self.changed: list[tuple[str, ...]] = []  # the articles each wake said changed

    @property
    def routes(self) -> list[Any]:
        return []

    async def start(self) -> None:
        pass

    def reconfigure(self, settings: Any) -> None:
        pass

    async def lead(self, leadership: object) -> None:
        pass

    async def stop_leading(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def wake(self, changed: Any = ()) -> None:
        self.woken += 1
        self.changed.append(tuple(changed))

    def health(self) -> dict[str, Any]:
        return {"bot": "recorder"}

    def down(self) -> str | None:
        return None


async def test_health_states_and_wake(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from feedbot.app import build_daemon
    from feedbot.config import Settings

    index = tmp_path / "index"
    index.mkdir()
    settings = Settings(
        index={"path": index, "settle_ms": 0, "scan_interval": 10},  # type: ignore[arg-type]
        storage={"path": tmp_path / "db.sqlite3"},  # type: ignore[arg-type]
    )
    store = await off_loop(Store.open, settings.storage.path)
    recorder = Recorder()
    try:
        daemon = await off_loop(
            build_daemon, settings, store, components=[lambda s, st, r: recorder]
        )
        body, ok = daemon.health()
        assert (body["status"], ok) == ("starting", False)
        atomic_write(index, "001_a.txt", ARTICLE.format(day=1, headline="A", body="Base."))
        report = await daemon.scan("test")
        assert report is not None and report.new == ("001_a",) and recorder.woken == 0
        body, ok = daemon.health()
        assert ok and body["status"] == "ok" and body["articles"] == 1 and body["bot"] == "recorder"
        atomic_write(index, "002_b.txt", ARTICLE.format(day=2, headline="B", body="New."))
        await daemon.scan("test")
        assert recorder.woken == 1 and recorder.changed == [()]
        atomic_write(index, "002_b.txt", ARTICLE.format(day=2, headline="B2", body="Fixed."))
        await daemon.scan("test")  # a correction: the component re-reads that article
        assert recorder.woken == 2 and recorder.changed[-1] == ("002_b",)
        daemon.last_scan = datetime.now(UTC) - timedelta(seconds=31)
        assert daemon.health()[0]["status"] == "scan overdue" and not daemon.health()[1]
        for name in ("001_a.txt", "002_b.txt"):
            (index / name).unlink()
        index.rmdir()
        assert await daemon.scan("test") is None
        body, ok = daemon.health()
        assert body["status"] == "scan failed" and "FileNotFoundError" in body["last_error"]
        assert not ok
    finally:
        store.close()


def test_publish_pings_the_websub_hub(
    tree: tuple[Path, dict[str, str]], start: Callable[..., Daemon]
) -> None:
    """Every scan that changes the feed pings the hub with the three feed URLs."""
    import http.server
    from urllib.parse import parse_qs

    pings: list[dict[str, list[str]]] = []

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            pings.append(parse_qs(body.decode()))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    try:
        index, env = tree
        hub_url = f"http://127.0.0.1:{hub.server_address[1]}/hub"
        d = start({**env, "FEEDBOT_FEED__WEBSUB_HUB": hub_url})
        d.wait_started()
        atomic_write(index, "001_aaaa.txt", "date 2024-05-01 A headline\n\nA paragraph.\n")
        until(lambda: "001_aaaa" in entries(d), what="the new article")
        until(lambda: len(pings) >= 3, what="three pings")
        topics = sorted(p["hub.url"][0].rsplit("/", 1)[-1] for p in pings[:3])
        assert topics == ["feed.atom", "feed.json", "feed.rss"]
        assert all(p["hub.mode"] == ["publish"] for p in pings)
        assert "001_aaaa" in d.get("feed.atom").text
        assert f'<{hub_url}>; rel="hub"' in d.get("feed.atom").headers.get("link", "")
        assert d.stop()[0] == 0
    finally:
        hub.shutdown()
        hub.server_close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")
def test_finished_files_are_ready_at_once_open_ones_wait(
    tree: tuple[Path, dict[str, str]], start: Callable[..., Daemon]
) -> None:
    """With a 3 s settle time: a rename is served within 1.5 s; a file whose writer keeps it
    open is never served half-written, and is served as soon as the writer closes it."""
    index, env = tree
    d = start({**env, "FEEDBOT_INDEX__SETTLE_MS": "3000"})
    d.wait_started()
    began = time.monotonic()
    atomic_write(index, "001_aaaa.txt", "date 2024-05-01 Renamed\n\nA paragraph.\n")
    until(lambda: "001_aaaa" in entries(d), timeout=1.5, what="the renamed file, at once")
    assert time.monotonic() - began < 1.5

    with (index / "002_bbbb.txt").open("w", encoding="utf-8") as writer:
        writer.write("date 2024-05-02 Slow\n\n")
        for i in range(6):
            writer.flush()
            time.sleep(0.25)
            assert "002_bbbb" not in entries(d)  # open and still growing: never half-read
            writer.write(f"Word {i}. ")
    until(lambda: "002_bbbb" in entries(d), timeout=1.5, what="the closed file")
    assert "Word 5." in d.get("feed.atom").text
    assert d.stop()[0] == 0
