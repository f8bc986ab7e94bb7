"""A large scan: its search words made in a second process, and (on PostgreSQL) its
writes overlapping its reading. The index it leaves is the one a small scan leaves;
losing, pausing or not having the words process costs speed, never an article."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feedbot.articles.corpus import generate
from feedbot.articles.parse import parse
from feedbot.ingest import bulk
from feedbot.ingest.bulk import WordsProcess
from feedbot.ingest.scan import BATCH, Indexer
from feedbot.search.query import parse as query
from feedbot.search.words import document
from feedbot.store import FileRecord, Store
from tests.waiting import until

NOW = datetime(2027, 1, 1, tzinfo=UTC)
FILES = 2 * BATCH + 40  # three batches: a stop hook runs between them


def odd_articles() -> list[bytes]:
    """Texts that push the words' rules: long words, a word past its 256 occurrences,
    scripts without a stemmer, marks, zero-width and RTL characters, astral ones."""
    return [
        b"date 2026-01-02 Parole lunghissime\n\n" + b"x" * 200 + b" citt\xc3\xa0 riforme\n",
        b"date 2026-01-03 Ripetuto\n\n" + b"parola " * 400 + b"\n",
        "date 2026-01-04 Ελληνικά και русский\n\nΚείμενο στα ελληνικά. Текст по-русски.\n".encode(),
        "date 2026-01-05 Segni\n\ne\u0301 a\u200bb \u202eabc\u202c \U0001f600 \ufeffz\n".encode(),
        "date 2026-01-06 漢字とかな\n\nこれは日本語の文です。\n".encode(),
    ]


def corpus(n: int) -> list[tuple[str, bytes]]:
    odd = [(f"9{i:02d}_{i:016x}.txt", data) for i, data in enumerate(odd_articles())]
    return list(generate(n - len(odd), seed=3)) + odd


def write_files(folder: Path, n: int = FILES) -> list[tuple[str, bytes]]:
    folder.mkdir(exist_ok=True)
    files = corpus(n)
    old = NOW.timestamp() - 60
    for name, data in files:
        path = folder / name
        path.write_bytes(data)
        os.utime(path, (old, old))
    return files


def children() -> list[int]:
    """The words processes this test process runs now."""
    return words_children(os.getpid())


def words_children(parent: int) -> list[int]:
    """The words processes process ``parent`` runs now."""
    found = []
    for task in os.listdir(f"/proc/{parent}/task"):
        with open(f"/proc/{parent}/task/{task}/children") as f:
            for pid in map(int, f.read().split()):
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                        if b"feedbot.ingest.bulk" in cmd.read():
                            found.append(pid)
                except FileNotFoundError:
                    pass  # gone meanwhile
    return found


def signal_child_once(signum: int) -> tuple[Callable[[], bool], list[int]]:
    """A scan's stop hook (asked between batches) that sends ``signum`` to the words
    process the first time, and never stops the scan; the pids it signalled."""
    signalled: list[int] = []

    def stop() -> bool:
        if not signalled:
            signalled.extend(children())
            for pid in signalled:
                os.kill(pid, signum)
        return False

    return stop, signalled


@pytest.fixture
def no_leftover_child() -> Iterator[None]:
    yield
    assert children() == [], "a words process outlived its scan"


def bulk_indexer(folder: Path, store: Store) -> Indexer:
    return Indexer(folder, store.articles, max_bytes=1 << 20, settle_ms=0, words_from=1)


def findable(store: Store, files: list[tuple[str, bytes]]) -> None:
    """Each file's article is found by its own headline, as a phrase (every 4th file of
    the generated ones, all the odd ones)."""
    for name, data in files[::4] + files[-len(odd_articles()) :]:
        article = parse(name, data)
        hits = store.search.find(query(f'"{article.headline}"'), NOW, limit=50).entries
        assert article.id in [h.article.id for h in hits], article.headline


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_words_process_makes_the_rows_the_store_would(
    dialect: str, no_leftover_child: None
) -> None:
    articles = [parse(name, data) for name, data in corpus(300)]
    with WordsProcess(dialect) as words:
        records = [FileRecord(a, f"{a.id}.txt", 1, 1, "h") for a in articles]
        for record in records:
            words.add(record)
        made = words.attach(records)
    assert [r.words for r in made] == [document(a).row(dialect) for a in articles]


def test_long_articles_go_to_the_words_process_in_frames_of_bounded_size(
    no_leftover_child: None,
) -> None:
    paragraph = ("parola " * 10_000 + "\n\n").encode()  # 70,000 characters
    long = [
        parse(f"{i:03d}_{i:016x}.txt", b"date 2026-01-01 Lungo\n\n" + paragraph * 9)
        for i in range(3)
    ]  # about 630,000 characters each: two fit in one frame's bound, not three
    with WordsProcess("sqlite") as words:
        records = [FileRecord(a, f"{a.id}.txt", 1, 1, "h") for a in long]
        for record in records:
            words.add(record)
        made = words.attach(records)
        assert words.frames == 2
    assert [r.words for r in made] == [document(a).row("sqlite") for a in long]


PARENT = """
import sys
from feedbot.articles.corpus import generate
from feedbot.articles.parse import parse
from feedbot.ingest.bulk import WordsProcess
from feedbot.store import FileRecord
words = WordsProcess("sqlite")
for name, data in generate(40, seed=5):
    words.add(FileRecord(parse(name, data), name, 1, 1, "h"))
print("ready", flush=True)
sys.stdin.read()  # until killed
"""


def test_the_words_process_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """kill -9 of the daemon mid-scan leaves no words process behind: it ends at the end
    of its input (or of its output), whatever it was doing, and quietly (the stderr it
    shares with the daemon gets no traceback)."""
    with subprocess.Popen(
        [sys.executable, "-c", PARENT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as parent:
        try:
            assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
            (child,) = until(lambda: words_children(parent.pid), what="the words process")
            parent.kill()
            parent.wait()
            until(lambda: not alive(child), what="the orphaned words process to end")
            assert parent.stderr is not None and parent.stderr.read() == b""
        finally:
            parent.kill()


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_bulk_scan_finds_what_a_small_scan_finds(
    tmp_path: Path, engine: str, new_pg_database: Callable[..., str], no_leftover_child: None
) -> None:
    """The same files, scanned once in bulk and once as small scans, answer every query
    alike (on PostgreSQL the bulk scan's writes also overlap its reading)."""
    files = write_files(tmp_path / "index")
    stores = []
    for name in ("bulk", "small"):
        url = new_pg_database() if engine == "postgresql" else None
        stores.append(Store.open(tmp_path / f"{name}.sqlite3", url=url))
    bulky, small = stores
    try:
        report = bulk_indexer(tmp_path / "index", bulky).scan(NOW)
        assert len(report.new) == FILES and report.bad == ()
        lot = tmp_path / "small"
        lot.mkdir()
        indexer = Indexer(lot, small.articles, max_bytes=1 << 20, settle_ms=0)
        for part in range(0, FILES, 100):  # scans too small for the words process
            for name, _ in files[part : part + 100]:
                os.link(tmp_path / "index" / name, lot / name)
            assert len(indexer.scan(NOW).new) == len(files[part : part + 100])
        findable(bulky, files)
        words = {w for _, data in files[:60] for w in data.decode().split()[3:9]}
        for typed in sorted(words)[:80]:
            # the same articles; order may differ within equal scores (keys of one second)
            hits = [
                {h.article.id for h in s.search.find(query(typed), NOW, limit=FILES).entries}
                for s in stores
            ]
            assert hits[0] == hits[1], typed
    finally:
        for s in stores:
            s.close()


def test_a_bulk_scan_loses_no_article_when_its_words_process_dies(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture, no_leftover_child: None
) -> None:
    files = write_files(tmp_path / "index")
    stop, killed = signal_child_once(signal.SIGKILL)

    with caplog.at_level(logging.WARNING, logger="feedbot.ingest"):
        report = bulk_indexer(tmp_path / "index", store).scan(NOW, stop=stop)
    assert len(killed) == 1
    assert len(report.new) == FILES and report.bad == ()
    lost = [r for r in caplog.records if "was lost" in r.getMessage()]
    assert len(lost) == 1, caplog.text
    findable(store, files)


def test_a_paused_words_process_is_waited_for_no_longer_than_WAIT(
    tmp_path: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    no_leftover_child: None,
) -> None:
    monkeypatch.setattr(bulk, "WAIT", 0.5)
    files = write_files(tmp_path / "index")
    stop, paused = signal_child_once(signal.SIGSTOP)

    with caplog.at_level(logging.WARNING, logger="feedbot.ingest"):
        report = bulk_indexer(tmp_path / "index", store).scan(NOW, stop=stop)
    assert len(paused) == 1 and len(report.new) == FILES
    assert "does not answer" in caplog.text
    findable(store, files)


def test_a_words_process_that_cannot_start_leaves_the_words_to_the_scan(
    tmp_path: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = write_files(tmp_path / "index", 40)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    with caplog.at_level(logging.WARNING, logger="feedbot.ingest"):
        report = bulk_indexer(tmp_path / "index", store).scan(NOW)
    assert len(report.new) == 40
    assert "cannot start the search words process" in caplog.text
    findable(store, files)


def test_a_failed_bulk_scan_keeps_what_it_stored_and_leaves_no_process(
    tmp_path: Path, store: Store, no_leftover_child: None
) -> None:
    """An error mid-scan (here from the stop hook) ends the words process and waits for
    the batch being written: the next scan stores only the rest."""
    files = write_files(tmp_path / "index")
    indexer = bulk_indexer(tmp_path / "index", store)
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("boom")
        return False

    with pytest.raises(RuntimeError, match="boom"):
        indexer.scan(NOW, stop=stop)
    assert len(indexer.known) == 2 * BATCH  # two batches stored before the error
    assert store.articles.count() == 2 * BATCH
    report = indexer.scan(NOW)
    assert len(report.new) == FILES - 2 * BATCH
    findable(store, files)


def test_a_batch_that_fails_in_the_writes_thread_fails_the_scan_and_is_stored_later(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch, no_leftover_child: None
) -> None:
    """The second step of a batch's write (on SQLite FTS5's rows and the commit, in the
    writes thread) fails: the scan raises, the batch is not stored nor known, and the
    next scan stores it."""
    from feedbot.store import articles as articles_module

    files = write_files(tmp_path / "index")
    indexer = bulk_indexer(tmp_path / "index", store)
    real, calls = articles_module.write_later, 0

    def second_fails(conn: Any, later: list[str]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk gone")
        real(conn, later)

    monkeypatch.setattr(articles_module, "write_later", second_fails)
    with pytest.raises(OSError, match="disk gone"):
        indexer.scan(NOW)
    monkeypatch.undo()
    assert len(indexer.known) == BATCH and store.articles.count() == BATCH
    report = indexer.scan(NOW)
    assert len(report.new) == FILES - BATCH
    findable(store, files)
