"""The index: the pure decider (table tests) and scans against real folders and SQLite files."""

from __future__ import annotations

import logging
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedbot.ingest.decide import BadFile, FileStat, decide, list_files
from feedbot.ingest.scan import Indexer
from feedbot.store import Known, Publishing, Store
from tests.conftest import SEED
from tests.storekit import article_row, deliveries_for

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW_NS = int(NOW.timestamp() * 1e9)
OLD = NOW_NS - 10**12  # 1000 s ago
SETTLE = 500

K = {"a.txt": Known("a", 10, OLD, "ha"), "b.txt": Known("b", 20, OLD, "hb")}
BAD = {"c.txt": BadFile(5, OLD, "hc", "c.txt:1: bad")}


def f(name: str, size: int = 10, mtime_ns: int = OLD) -> FileStat:
    return FileStat(name, size, mtime_ns)


@pytest.mark.parametrize(
    ("files", "expect"),
    [
        # files on disk                       new      changed  removed unchanged bad unsettled
        ([f("a.txt"), f("b.txt", 20)], ([], [], [], 2, 0, [])),
        ([f("a.txt"), f("b.txt", 21)], ([], ["b.txt"], [], 1, 0, [])),
        ([f("a.txt", 10, OLD + 1), f("b.txt", 20)], ([], ["a.txt"], [], 1, 0, [])),
        ([f("a.txt")], ([], [], ["b.txt"], 1, 0, [])),
        ([], ([], [], ["a.txt", "b.txt"], 0, 0, [])),
        ([f("a.txt"), f("b.txt", 20), f("n.txt")], (["n.txt"], [], [], 2, 0, [])),
        # still being written: changed within settle_ms (either side of now: clock skew)
        ([f("a.txt"), f("b.txt", 20), f("n.txt", 3, NOW_NS - 100_000_000)],
         ([], [], [], 2, 0, ["n.txt"])),
        ([f("a.txt", 11, NOW_NS - 1), f("b.txt", 20)], ([], [], [], 1, 0, ["a.txt"])),
        ([f("a.txt"), f("b.txt", 20), f("n.txt", 3, NOW_NS + 100_000_000)],
         ([], [], [], 2, 0, ["n.txt"])),
        # settled just now
        ([f("a.txt"), f("b.txt", 20), f("n.txt", 3, NOW_NS - 500_000_000)],
         (["n.txt"], [], [], 2, 0, [])),
        # ignored names
        ([f("a.txt"), f("b.txt", 20), f(".n.txt"), f("n.txt.tmp"), f("n.txt~"), f("n.md")],
         ([], [], [], 2, 0, [])),
        ([f("a.txt"), f("b.txt", 20), f("n.txt.part"), f("n.txt.swp")], ([], [], [], 2, 0, [])),
        # a known bad file, same stat: not read again; new stat: read again
        ([f("a.txt"), f("b.txt", 20), f("c.txt", 5)], ([], [], [], 2, 1, [])),
        ([f("a.txt"), f("b.txt", 20), f("c.txt", 6)], (["c.txt"], [], [], 2, 0, [])),
    ],
)  # fmt: skip
def test_decide(files: list[FileStat], expect: tuple[object, ...]) -> None:
    plan = decide(files, K, NOW, SETTLE, bad=BAD)
    got = (
        [x.name for x in plan.new],
        [x.name for x in plan.changed],
        plan.removed,
        plan.unchanged,
        plan.bad,
        [x.name for x in plan.unsettled],
    )
    assert got == expect


def test_decide_ready_files_skip_the_settle_rule() -> None:
    """Files the watcher saw renamed in or closed are complete: no waiting."""
    files = [f("a.txt", 11, NOW_NS - 1), f("b.txt", 20), f("n.txt", 3, NOW_NS - 1)]
    plan = decide(files, K, NOW, SETTLE, bad=BAD, ready={"n.txt", "a.txt"})
    assert [x.name for x in plan.new] == ["n.txt"]
    assert [x.name for x in plan.changed] == ["a.txt"]
    assert plan.unsettled == [] and plan.recheck_in is None
    plan = decide(files, K, NOW, SETTLE, bad=BAD, ready={"n.txt"})
    assert [x.name for x in plan.unsettled] == ["a.txt"]  # only what was named


def test_decide_files_open_in_their_writer_wait_however_old() -> None:
    """A file the watcher sees open for writing waits for its close, settled or not, with
    no re-check (the close wakes a scan); ``writing`` wins over an earlier ``ready``; a
    file that is refused unread does not wait; an unchanged one stays on the hot path."""
    link = FileStat("l.txt", 3, OLD, stat.S_IFLNK)
    files = [f("a.txt", 11), f("b.txt", 20), f("n.txt", 3), f("m.txt", 3, NOW_NS - 1), link]
    plan = decide(files, K, NOW, SETTLE, ready={"a.txt"}, writing={"a.txt", "n.txt", "l.txt"})
    assert [x.name for x in plan.unsettled] == ["a.txt", "n.txt", "m.txt"]
    assert [x.name for x in plan.new] == ["l.txt"]  # refused when read: no waiting
    assert plan.changed == [] and plan.removed == [] and plan.unchanged == 1
    assert plan.recheck_in == pytest.approx(SETTLE / 1000)  # m.txt's settle rule only
    plan = decide([f("a.txt"), f("b.txt", 20)], K, NOW, SETTLE, writing={"a.txt"})
    assert plan.unchanged == 2 and plan.unsettled == []  # stat unchanged: nothing to read
    plan = decide([f("n.txt", 3)], {}, NOW, SETTLE, writing={"n.txt"})
    assert [x.name for x in plan.unsettled] == ["n.txt"] and plan.recheck_in is None


def test_decide_recheck_is_when_the_first_file_settles() -> None:
    files = [f("x.txt", 1, NOW_NS - 100_000_000), f("y.txt", 1, NOW_NS - 300_000_000)]
    plan = decide(files, {}, NOW, SETTLE)
    assert plan.recheck_in == pytest.approx(0.2)
    assert decide([f("x.txt")], {}, NOW, SETTLE).recheck_in is None


# --- scans against real folders --------------------------------------------------------------

TEXT = "date 2022-01-{day:02d} {headline}.\n\nA paragraph of the article, long enough.\n"


def write(folder: Path, name: str, text: str, *, age: float = 10.0) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    t = datetime.now(UTC).timestamp() - age
    os.utime(path, (t, t))
    return path


@pytest.fixture
def env(tmp_path: Path, store: Store) -> tuple[Path, Store]:
    folder = tmp_path / "index"
    folder.mkdir()
    return folder, store


def make(folder: Path, store: Store, settle_ms: int = 200) -> Indexer:
    store.articles.publish_with(Publishing(channels=("@chan",)))
    return Indexer(folder, store.articles, max_bytes=10_000, settle_ms=settle_ms)


def test_baseline_then_broadcast(env: tuple[Path, Store]) -> None:
    folder, store = env
    write(folder, "001_a.txt", TEXT.format(day=1, headline="First"))
    write(folder, "002_b.txt", TEXT.format(day=2, headline="Second"))
    report = make(folder, store).scan()
    assert sorted(report.new) == ["001_a", "002_b"] and report.created == ()
    assert article_row(store, "001_a")["broadcast"] is False  # type: ignore[index]
    assert deliveries_for(store, "001_a") == []
    write(folder, "003_c.txt", TEXT.format(day=3, headline="Third"))
    indexer = make(folder, store)  # a restart: the baseline is remembered
    report = indexer.scan()
    assert report.new == ("003_c",) and report.created == ("003_c",)
    assert article_row(store, "003_c")["broadcast"] is True  # type: ignore[index]
    assert [d["chat"] for d in deliveries_for(store, "003_c")] == ["@chan"]
    assert indexer.scan().changes == 0


def test_listing_against_what_is_known_only_names_the_unchanged(
    env: tuple[Path, Store],
) -> None:
    """The re-scan's hot path: files whose stat matches their record come back by name
    alone, and deciding with those names plans exactly what the full listing does."""
    folder, store = env
    for day, name in enumerate(("001_a.txt", "002_b.txt", "003_c.txt", "004_d.txt"), 1):
        write(folder, name, TEXT.format(day=day, headline=f"Headline {day}"))
    indexer = make(folder, store)
    indexer.scan()
    write(folder, "002_b.txt", TEXT.format(day=2, headline="Edited"))
    (folder / "003_c.txt").unlink()
    write(folder, "005_e.txt", TEXT.format(day=5, headline="New"))
    (folder / "006_f.txt").mkdir()  # a folder named like an article: never listed
    (folder / "004_d.txt").rename(folder / "004_d.txt.tmp")
    (folder / "004_d.txt").symlink_to(folder / "004_d.txt.tmp")  # same stat through a link
    same: list[str] = []
    files = list_files(folder, known=indexer.known, same=same)
    assert same == ["001_a.txt"]
    assert sorted(x.name for x in files) == ["002_b.txt", "004_d.txt", "005_e.txt"]
    now = datetime.now(UTC)
    fast = decide(files, indexer.known, now, 0, same=same)
    assert fast == decide(list_files(folder), indexer.known, now, 0)
    assert fast.unchanged == 1 and fast.removed == ["003_c.txt"]


def test_change_remove_and_restart(env: tuple[Path, Store]) -> None:
    folder, store = env
    path = write(folder, "001_a.txt", TEXT.format(day=1, headline="First"))
    indexer = make(folder, store)
    indexer.scan()
    first = store.articles.entry("001_a")
    assert first is not None
    # touched, same bytes: nothing changes
    os.utime(path, (1_600_000_000, 1_600_000_000))
    report = indexer.scan()
    assert report.changes == 0
    assert store.articles.entry("001_a") == first
    write(folder, "001_a.txt", TEXT.format(day=1, headline="First, edited"))
    now = datetime.now(UTC)
    report = indexer.scan(now)
    assert report.changed == ("001_a",)
    edited = store.articles.entry("001_a")
    assert edited is not None and edited.updated == now and "edited" in edited.article.headline
    # a restart neither re-adds nor re-dates
    again = make(folder, store)
    assert again.scan().changes == 0
    assert store.articles.entry("001_a") == edited
    path.unlink()
    report = again.scan()
    assert report.removed == ("001_a",) and store.articles.count() == 0 and report.articles == 0


def test_unsettled_file_is_picked_up_later(env: tuple[Path, Store]) -> None:
    folder, store = env
    write(folder, "001_a.txt", "date 2022-01-01 Half", age=0)
    indexer = make(folder, store, settle_ms=60_000)
    report = indexer.scan()
    assert report.unsettled == 1 and report.new == () and report.recheck_in is not None
    assert store.articles.count() == 0 and indexer.bad == {}
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Whole"), age=120)
    assert indexer.scan().new == ("001_a",)


def test_bad_file_warned_once_per_version(
    env: tuple[Path, Store], caplog: pytest.LogCaptureFixture
) -> None:
    folder, store = env
    path = write(folder, "001_a.txt", "no date line here\n")
    indexer = make(folder, store)
    with caplog.at_level(logging.WARNING, logger="feedbot.index"):
        report = indexer.scan()
        assert len(report.bad) == 1 and report.bad[0].startswith(f"{path.name}:1: ")
        os.utime(path, (1_600_000_000, 1_600_000_000))  # same content, new stat
        assert len(indexer.scan().bad) == 1
        assert len(indexer.scan().bad) == 1
    assert [r.getMessage() for r in caplog.records] == [report.bad[0]]
    write(folder, "001_a.txt", "still no date\n")
    with caplog.at_level(logging.WARNING, logger="feedbot.index"):
        indexer.scan()
    assert len(caplog.records) == 2
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Fixed"))
    report = indexer.scan()
    assert report.bad == () and report.new == ("001_a",)


def test_good_article_turned_bad_keeps_the_good_version(env: tuple[Path, Store]) -> None:
    folder, store = env
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Good"))
    indexer = make(folder, store)
    indexer.scan()
    write(folder, "001_a.txt", "broken\n")
    report = indexer.scan()
    assert len(report.bad) == 1 and report.changes == 0
    assert store.articles.entry("001_a") is not None


def test_too_big_file_is_bad_without_reading(env: tuple[Path, Store]) -> None:
    folder, store = env
    write(folder, "001_a.txt", TEXT.format(day=1, headline="x" * 20_000))
    report = make(folder, store).scan()
    assert len(report.bad) == 1 and "over the limit" in report.bad[0]


def test_seed_file(env: tuple[Path, Store]) -> None:
    folder, store = env
    (folder / SEED.name).write_bytes(SEED.read_bytes())
    os.utime(folder / SEED.name, (1_600_000_000, 1_600_000_000))
    report = make(folder, store).scan()
    assert report.new == (SEED.stem,) and report.articles == 1


def test_many_files_in_batches(env: tuple[Path, Store]) -> None:
    folder, store = env
    for i in range(600):
        write(folder, f"{i:04d}_x.txt", TEXT.format(day=1 + i % 28, headline=f"Number {i}"))
    indexer = make(folder, store)
    assert len(indexer.scan().new) == 600
    assert store.articles.count() == 600 and store.db.get_state("baseline_done") is not None
    ids = [e.article.id for e in store.articles.newest(0, 600)]
    assert ids[0] == "0587_x" and len(set(ids)) == 600


def test_scan_of_missing_folder_raises(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db.sqlite3")
    try:
        with pytest.raises(OSError):
            make(tmp_path / "nope", store).scan()
    finally:
        store.close()


def test_recheck_when_now_is_old() -> None:
    plan = decide([f("x.txt", 1, NOW_NS)], {}, NOW - timedelta(seconds=1), SETTLE)
    assert [x.name for x in plan.new] == ["x.txt"]  # 1 s in the future is past the settle window


def test_stop_between_batches_keeps_what_was_stored(env: tuple[Path, Store]) -> None:
    folder, store = env
    for i in range(300):
        write(folder, f"{i:04d}_x.txt", TEXT.format(day=1, headline=f"Number {i}"))
    indexer = make(folder, store)
    report = indexer.scan(stop=lambda: True)
    assert len(report.new) == 256 and report.unsettled == 44
    assert store.articles.count() == 256 and store.db.get_state("baseline_done") is None
    report = indexer.scan()
    assert len(report.new) == 44 and store.db.get_state("baseline_done") is not None
    assert report.created == ()  # still the baseline


def test_a_scan_interns_no_file_name(
    env: tuple[Path, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A path interns its parts, and the interpreter's table of interned strings, grown by
    a cold scan of thousands of names, keeps its size for good: no path per file read."""
    folder, store = env
    write(folder, "004_interned.txt", TEXT.format(day=4, headline="Fourth"))
    interned: list[str] = []
    real = sys.intern

    def spy(s: str) -> str:
        interned.append(s)
        return real(s)

    monkeypatch.setattr(sys, "intern", spy)
    assert make(folder, store).scan().new == ("004_interned",)
    assert [s for s in interned if "004_interned" in s] == []
