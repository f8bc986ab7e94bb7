"""Hostile names and files in the index folder: each a real scan of a real folder."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from feedbot.articles.names import MAX_ID_URL_CHARS, is_article_name
from feedbot.config import Settings
from feedbot.ingest import watch
from feedbot.ingest.scan import Indexer
from feedbot.publish.feeds import article_path
from feedbot.runtime.logs import setup_logging
from feedbot.store import Store
from tests.conftest import ROOT
from tests.ingest.test_watch import watched
from tests.storekit import off_loop
from tests.waiting import until_async

TEXT = "date 2022-01-{day:02d} {headline}.\n\nA paragraph of the article, long enough.\n"


def write(folder: Path, name: str, text: str, *, age: float = 10.0) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    t = datetime.now(UTC).timestamp() - age
    os.utime(path, (t, t))
    return path


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Path, Store]]:
    folder = tmp_path / "index"
    folder.mkdir()
    store = Store.open(tmp_path / "db.sqlite3")
    yield folder, store
    store.close()


def make(folder: Path, store: Store, *, follow_symlinks: bool = False) -> Indexer:
    return Indexer(
        folder, store.articles, max_bytes=10_000, settle_ms=200, follow_symlinks=follow_symlinks
    )


# --- 1: a file name that is not UTF-8 ---------------------------------------------------------


def test_non_utf8_name_is_one_bad_file(env: tuple[Path, Store]) -> None:
    folder, store = env
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Good"))
    write(folder, os.fsdecode(b"060_\xff\xfe.txt"), TEXT.format(day=2, headline="Bad name"))
    write(folder, os.fsdecode(b"061_\xff.txt"), "no date line, and a bad name\n")
    indexer = make(folder, store)
    report = indexer.scan()
    assert report.new == ("001_a",) and store.articles.count() == 1
    assert sorted(report.bad) == [
        "060_\\xff\\xfe.txt:0: file name is not valid UTF-8",
        "061_\\xff.txt:0: file name is not valid UTF-8",
    ]
    write(folder, "002_b.txt", TEXT.format(day=3, headline="Later"))
    assert indexer.scan().new == ("002_b",)  # indexing goes on


async def test_non_utf8_name_does_not_break_healthz(tmp_path: Path) -> None:
    from feedbot.app import build_daemon
    from feedbot.http.app import create_app

    index = tmp_path / "index"
    index.mkdir()
    write(index, os.fsdecode(b"061_\xff.txt"), "no date line\n")
    settings = Settings(
        index={"path": index, "settle_ms": 0},  # type: ignore[arg-type]
        storage={"path": tmp_path / "db.sqlite3"},  # type: ignore[arg-type]
    )
    store = await off_loop(Store.open, settings.storage.path)
    try:
        daemon = await off_loop(build_daemon, settings, store)
        assert await daemon.scan("test") is not None
        app = create_app(daemon.site, settings.http, health=daemon.health)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            r = await client.get("/healthz")
        assert r.status_code == 200, r.text
        assert r.json()["bad"] == ["061_\\xff.txt:0: file name is not valid UTF-8"]
    finally:
        store.close()


# --- 2: a FIFO swapped in while the scan runs -------------------------------------------------


def test_fifo_swapped_in_during_a_scan_does_not_block(env: tuple[Path, Store]) -> None:
    folder, store = env
    for i in range(257):  # one more than a batch: the stop check runs between the two
        write(folder, f"{i:04d}_x.txt", TEXT.format(day=1, headline=f"Number {i}"))
    swapped: list[Path] = []

    def swap_all() -> bool:  # between batches: every file not read yet becomes a FIFO
        if not swapped:
            for path in folder.iterdir():
                path.unlink()
                os.mkfifo(path)
                swapped.append(path)
        return False

    indexer = make(folder, store)
    thread = threading.Thread(target=indexer.scan, kwargs={"stop": swap_all}, daemon=True)
    thread.start()
    thread.join(10)
    stuck = thread.is_alive()
    if stuck:  # release the reader so the test process can go on
        for path in swapped:
            with contextlib.suppress(OSError):  # ENXIO: nobody is reading this one
                os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(10)
    assert not stuck, "the scan blocked opening a FIFO"
    report = indexer.scan(ready={p.name for p in swapped})  # FIFOs are never read: no settling
    assert len(report.bad) == 257
    assert all(b.endswith(":0: not a regular file (a FIFO)") for b in report.bad)


# --- 9 and 11: symlinks ---------------------------------------------------------------------


def test_symlink_to_proc_is_reported_once_and_not_read_again(
    env: tuple[Path, Store], caplog: pytest.LogCaptureFixture
) -> None:
    folder, store = env
    (folder / "010_env.txt").symlink_to("/proc/self/environ")
    indexer = make(folder, store)
    with caplog.at_level(logging.WARNING, logger="feedbot.index"):
        reports = [indexer.scan() for _ in range(3)]
    message = "010_env.txt:0: a symbolic link, not read (index.follow_symlinks is off)"
    assert [r.bad for r in reports] == [(message,)] * 3
    assert [(r.unsettled, r.recheck_in) for r in reports] == [(0, None)] * 3
    assert [r.examined for r in reports] == [1, 0, 0]  # remembered by its stat
    assert [r.getMessage() for r in caplog.records] == [message]


def test_symlink_out_of_the_index_is_not_published(tmp_path: Path, env: tuple[Path, Store]) -> None:
    folder, store = env
    secret = write(tmp_path, "secret.txt", TEXT.format(day=1, headline="Secret"))
    (folder / "011_leak.txt").symlink_to(secret)
    (folder / "drafts").mkdir()
    inside = write(folder / "drafts", "draft.txt", TEXT.format(day=2, headline="Draft"))
    (folder / "012_in.txt").symlink_to(inside)
    (folder / "013_up.txt").symlink_to(Path("..") / "secret.txt")  # relative, still outside
    report = make(folder, store).scan()
    assert report.new == () and store.articles.count() == 0 and len(report.bad) == 3

    report = make(folder, store, follow_symlinks=True).scan()
    assert report.new == ("012_in",) and store.articles.count() == 1
    assert sorted(report.bad) == [
        "011_leak.txt:0: the symbolic link points outside the index folder",
        "013_up.txt:0: the symbolic link points outside the index folder",
    ]


def test_follow_symlinks_setting_defaults_to_off() -> None:
    assert Settings().index.follow_symlinks is False
    assert "follow_symlinks" in (ROOT / "config" / "feedbot.toml").read_text()


# --- 10: the watcher comes back when the folder does --------------------------------------


@pytest.mark.parametrize("away", ["removed", "moved"])
async def test_watcher_rearms_when_the_folder_is_recreated(tmp_path: Path, away: str) -> None:
    folder = tmp_path / "index"
    folder.mkdir()
    stop = asyncio.Event()
    stream = watch.watch(folder, is_article_name, stop)
    batches: asyncio.Queue[watch.Changes] = asyncio.Queue()

    async def pump() -> None:
        async for batch in stream:
            await batches.put(batch)

    task = asyncio.ensure_future(pump())
    await until_async(lambda: watched(folder), what="the watch to be set up")
    if away == "removed":
        shutil.rmtree(folder)
    else:  # the old folder is still watched where it went unless the watch is dropped
        folder.rename(tmp_path / "old")
    folder.mkdir()
    try:
        async with asyncio.timeout(5):
            while not (await batches.get()).other:  # re-armed: a full scan is asked for
                pass
            (folder / ".a.tmp").write_text("date 2024-01 A\n")
            os.replace(folder / ".a.tmp", folder / "001_a.txt")
            while "001_a.txt" not in (await batches.get()).ready:
                pass
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert task.exception() is None


# --- 12: a read error is retried ------------------------------------------------------------

_SCAN_TWICE = """
import json, os, sys
from pathlib import Path
from feedbot.ingest.scan import Indexer
from feedbot.store import Store
root = Path(sys.argv[1])
store = Store.open(root / "db.sqlite3")
indexer = Indexer(root / "index", store.articles, max_bytes=10_000, settle_ms=0)
print(json.dumps(indexer.scan().bad), flush=True)
sys.stdin.readline()
report = indexer.scan()
print(json.dumps([report.new, report.bad]), flush=True)
"""


def test_permission_denied_file_is_retried_after_chmod(tmp_path: Path) -> None:
    # Root reads a file of mode 000: the scanner then runs without the capabilities that
    # let it (a real process, still uid 0).
    command = [sys.executable, "-c", _SCAN_TWICE, str(tmp_path)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: a mode of 000 cannot stop a read")
        caps = "-dac_override,-dac_read_search"
        command = [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}", *command]
    (tmp_path / "index").mkdir()
    path = write(tmp_path / "index", "001_a.txt", TEXT.format(day=1, headline="Locked"))
    os.chmod(path, 0o000)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        first = json.loads(proc.stdout.readline())
        assert [b.rsplit("/")[-1] for b in first] == [
            "001_a.txt:0: cannot read the file: Permission denied"
        ]
        os.chmod(path, 0o644)  # the stat the scan compares (size, mtime) is unchanged
        proc.stdin.write("\n")
        proc.stdin.flush()
        second = json.loads(proc.stdout.readline())
        assert proc.wait(10) == 0
    assert second == [["001_a"], []]


# --- 13: ids longer than the page route accepts -----------------------------------------------


def test_id_longer_than_the_page_route_is_a_bad_file(env: tuple[Path, Store]) -> None:
    from feedbot.publish.site import Site
    from feedbot.store import StoreSource

    folder, store = env
    longest = "1" + "x" * (MAX_ID_URL_CHARS - 1)
    write(folder, longest + ".txt", TEXT.format(day=1, headline="Longest"))
    write(folder, "2" + "x" * MAX_ID_URL_CHARS + ".txt", TEXT.format(day=2, headline="Long"))
    write(folder, "3" + "é" * 60 + ".txt", TEXT.format(day=3, headline="Accents"))
    report = make(folder, store).scan()
    assert report.new == (longest,)
    assert sorted(b.split(":0: ")[1] for b in report.bad) == [
        f"the id takes {n} characters in a URL, over the limit of {MAX_ID_URL_CHARS}; "
        "use a shorter file name"
        for n in (MAX_ID_URL_CHARS + 1, 1 + 60 * 6)
    ]
    site = Site(StoreSource(store.articles), Settings().feed)
    assert site.get(article_path(longest)) is not None  # every published id has a page


# --- 14: file names cannot forge log lines ----------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_file_names_cannot_forge_log_lines(env: tuple[Path, Store], fmt: str) -> None:
    folder, store = env
    forged = "001_a.txt:1: x\n2026-01-01 00:00:00,000 CRITICAL feedbot: forged\n"
    write(folder, forged + "002.txt", "no date line\n")
    write(folder, os.fsdecode(b"003_\xff.txt"), "no date line\n")
    stream = io.StringIO()
    level = logging.getLogger().level
    handler = setup_logging("INFO", fmt, stream=stream)
    try:
        make(folder, store).scan()
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(level)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and not any("\udcff" in line for line in lines)
    stream.getvalue().encode("utf-8")  # what a real stderr must be able to write
    messages = [json.loads(line)["message"] for line in lines] if fmt == "json" else lines
    escaped = forged.replace("\n", "\\n") + "002.txt"
    assert any(f"{escaped}:1: expected the date line first" in m for m in messages)
    assert any("003_\\xff.txt:0: file name is not valid UTF-8" in m for m in messages)


# --- also seen: /healthz and the report list bad files relative to the index --------------------


def test_bad_files_are_reported_relative_to_the_index(env: tuple[Path, Store]) -> None:
    folder, store = env
    write(folder, "001_a.txt", "no date line\n")
    report = make(folder, store).scan()
    assert report.bad == (
        "001_a.txt:1: expected the date line first: 'date YYYY-MM[-DD] <headline>'",
    )
