"""A real `feedbot run` under hostile clients and surroundings: a second daemon, a database
deleted, read-only or damaged under it, a scan stuck at a stop, SIGHUP, slow and huge requests."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedbot.store import Store
from tests.conftest import SEED
from tests.daemonkit import WAIT, fast_env
from tests.waiting import until

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    index = tmp_path / "index"
    index.mkdir()
    (index / "001_a.txt").write_bytes(SEED.read_bytes())
    return fast_env(tmp_path, index) | {"FEEDBOT_LOG__LEVEL": "DEBUG"}


@pytest.fixture
def immutable() -> Iterator[list[Path]]:
    """Paths made immutable with `chattr +i` (root ignores modes); cleared afterwards."""
    paths: list[Path] = []
    yield paths
    for p in paths:
        subprocess.run(["chattr", "-i", str(p)], check=False)


def chattr(flag: str, *paths: Path) -> None:
    subprocess.run(["chattr", flag, *map(str, paths)], check=True)


def db(env: dict[str, str]) -> Path:
    return Path(env["FEEDBOT_STORAGE__PATH"])


# --- one daemon per SQLite file -------------------------------------------------------------------


def test_a_second_daemon_on_the_same_database_is_refused(env, start) -> None:  # type: ignore[no-untyped-def]
    first = start(env)
    first.wait_started()
    other = dict(env, FEEDBOT_INDEX__PATH=str(db(env).parent))  # another index, same database
    line = start(other).refused()
    assert "another feedbot (pid" in line and "one daemon per SQLite file" in line
    assert first.get("healthz").status_code == 200
    assert first.stop()[0] == 0


# --- the database deleted under a running daemon --------------------------------------------------


def test_a_deleted_database_is_noticed_and_not_silently_recreated(env, start) -> None:  # type: ignore[no-untyped-def]
    d = start(env)
    d.wait_started()
    assert "taken as a baseline" in d.log  # the first start of a deployment says so
    until(lambda: d.get("healthz").status_code == 200, what="healthy")
    for suffix in ("", "-wal", "-shm"):
        Path(str(db(env)) + suffix).unlink(missing_ok=True)
    response = d.get("healthz")
    assert response.status_code == 503
    assert "was deleted" in response.json()["database_error"]
    until(lambda: re.search(r"ERROR feedbot\.\w+: .*was deleted", d.log), what="the ERROR")
    assert d.stop()[0] == 0
    line = start(env).refused()
    assert "the database is missing" in line and "--baseline" in line
    again = start(env, "--baseline")
    again.wait_started()
    assert again.stop()[0] == 0


# --- read-only database or folder; write errors that clear ----------------------------------------


def test_a_read_only_database_or_folder_is_refused_at_start(env, start, immutable) -> None:  # type: ignore[no-untyped-def]
    d = start(env)
    d.wait_started()
    assert d.stop()[0] == 0
    immutable.append(db(env))
    chattr("+i", db(env))
    assert "the database is not writable" in start(env).refused()
    chattr("-i", db(env))
    immutable.append(db(env).parent)
    chattr("+i", db(env).parent)
    assert "the database folder is not writable" in start(env).refused()


def test_a_write_error_that_clears_needs_no_restart(env, start, immutable, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = start(env)
    d.wait_started()
    until(lambda: d.get("healthz").status_code == 200, what="healthy")
    files = [db(env), Path(str(db(env)) + "-wal")]
    immutable.extend(files)
    chattr("+i", *files)
    (tmp_path / "index" / "002_b.txt").write_bytes(SEED.read_bytes().replace(b"date ", b"date  "))
    until(lambda: d.get("healthz").status_code == 503, what="the failed scan")
    chattr("-i", *files)
    until(lambda: d.get("healthz").json()["articles"] == 2, what="recovery")
    assert d.get("healthz").status_code == 200
    assert d.stop()[0] == 0


# --- a damaged table page -------------------------------------------------------------------------


def test_a_damaged_table_page_is_one_line_and_exit_2(env, start, tmp_path) -> None:  # type: ignore[no-untyped-def]
    body = SEED.read_bytes()
    for n in range(2, 40):
        (tmp_path / "index" / f"{n:03d}_a{n}.txt").write_bytes(body.replace(b"date ", b"date ", 1))
    d = start(env)
    d.wait_started()
    until(lambda: d.get("healthz").json()["articles"] >= 39, what="the articles")
    assert d.stop()[0] == 0
    with sqlite3.connect(db(env)) as conn:
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name='articles'").fetchone()
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    with db(env).open("r+b") as f:
        f.seek((root[0] - 1) * size + 8)
        f.write(b"\xa5" * 64)
    line = start(env).refused()
    assert str(db(env)) in line
    assert "the database is damaged (PRAGMA integrity_check: " in line


# --- stopping within the budget with a scan stuck in the database ---------------------------------

_HOLD = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(60)
"""


def _sleeping_thread(pid: int) -> bool:
    """A thread of ``pid`` is in nanosleep/clock_nanosleep: SQLite's busy handler waiting."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            syscall = (task / "syscall").read_text().split()
        except OSError:
            continue
        if syscall and syscall[0] in ("35", "230"):  # nanosleep, clock_nanosleep (x86-64)
            return True
    return False


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86-64")
def test_sigterm_ends_the_daemon_within_budget_with_a_scan_stuck(env, start, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Another process holds the SQLite write lock: the first scan waits for it (up to the
    10 s busy timeout), longer than the 8 s stop budget. Files can no longer block a scan
    (they are opened without blocking), so the database is the stuck resource here."""
    Store.open(db(env)).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(db(env))], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        d = start(env)
        until(
            lambda: _sleeping_thread(d.proc.pid),
            timeout=WAIT,  # the start-up, then the first scan
            what="the first scan waiting for the lock",
        )
        code, took = d.stop()
        assert took < 10, (took, d.log)
        assert "feedbot leading" not in d.log  # nothing was started during the first scan
        assert "did not finish" in d.log
        assert code == 0, d.log
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()


# --- SIGHUP: live settings applied, a bad config kept out -----------------------------------------


def test_sighup_applies_what_it_can_and_keeps_a_bad_config_out(env, start, tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "feedbot.toml"
    config.write_text('[index]\nscan_interval = 30\n[log]\nlevel = "DEBUG"\n')
    fixed = {
        k: v
        for k, v in env.items()
        if k not in ("FEEDBOT_LOG__LEVEL", "FEEDBOT_INDEX__SCAN_INTERVAL")
    }
    d = start(dict(fixed, FEEDBOT_CONFIG=str(config)))
    d.wait_started()
    config.write_text(
        "[index]\nscan_interval = 20\n[http]\ncache_max_age = 5\n[telegram]\nglobal_rate = 10\n"
    )
    d.proc.send_signal(signal.SIGHUP)
    line = until(lambda: re.search(r"SIGHUP: configuration re-read; .*", d.log), what="reload")
    assert "applied: index.scan_interval, log.level, telegram.global_rate;" in line.group(0)
    assert "needs a restart: http.cache_max_age" in line.group(0)
    config.write_text("[index\n")
    d.proc.send_signal(signal.SIGHUP)
    until(lambda: "configuration not applied, the old one stays" in d.log, what="the refusal")
    assert d.proc.poll() is None
    assert d.get("healthz").status_code == 200
    assert d.stop()[0] == 0


# --- slow and oversized requests ------------------------------------------------------------------


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def test_half_sent_requests_time_out_and_healthz_keeps_answering(env, start) -> None:  # type: ignore[no-untyped-def]
    d = start(dict(env, FEEDBOT_HTTP__HEADER_TIMEOUT="1", FEEDBOT_HTTP__MAX_CONNECTIONS="400"))
    d.wait_started()
    slow = [_connect(d.url) for _ in range(300)]
    for s in slow:
        s.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert d.get("healthz").status_code == 200
    started = time.monotonic()
    for s in slow:
        assert s.recv(64).startswith(b"HTTP/1.1 408 ")
        s.close()
    assert time.monotonic() - started < 4
    over = [_connect(d.url) for _ in range(401)]
    for s in over[:400]:
        s.sendall(b"GET /healthz")
    last = over[-1]
    last.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert last.recv(64).startswith(b"HTTP/1.1 503 ")
    for s in over:
        s.close()
    assert d.stop()[0] == 0


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("head", "status"),
    [(b"GET /", b"414"), (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ", b"431")],
    ids=["url", "header"],
)
def test_a_100_mb_request_head_is_cut_off_early(env, start, head, status) -> None:  # type: ignore[no-untyped-def]
    d = start(env)
    d.wait_started()
    before = _rss_kib(d.proc.pid)
    s = _connect(d.url)
    s.sendall(head)
    sent = 0
    chunk = b"a" * 65536
    try:
        while sent < 100 * 1024 * 1024:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    answer = s.recv(64)
    assert answer.startswith(b"HTTP/1.1 " + status), answer
    assert sent < 16 * 1024 * 1024  # refused after a few KiB; the rest is socket buffers
    assert d.get("healthz").status_code == 200
    assert _rss_kib(d.proc.pid) - before < 10 * 1024
    s.close()
    assert d.stop()[0] == 0


def test_asterisk_form_target_is_a_bad_request(env, start) -> None:  # type: ignore[no-untyped-def]
    d = start(env)
    d.wait_started()
    s = _connect(d.url)
    s.sendall(b"GET * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert s.recv(64).startswith(b"HTTP/1.1 400 ")
    s.close()
    assert d.stop()[0] == 0
