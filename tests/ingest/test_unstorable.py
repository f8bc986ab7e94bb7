"""What one file's values can break in the store — a sequence number, a modification time,
a value the database refuses — is one bad file, never a failed scan: on SQLite and
PostgreSQL alike, the files beside it and the files added later are published."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feedbot.articles.names import MAX_SEQ_DIGITS
from feedbot.articles.parse import parse
from feedbot.cli import cli
from feedbot.errors import ArticleError
from feedbot.ingest.scan import WORDS_FROM, Indexer
from feedbot.store import Store
from tests.daemonkit import Daemon
from tests.storekit import article_row
from tests.waiting import until

TEXT = "date 2022-01-{day:02d} {headline}.\n\nA paragraph of the article, long enough.\n"
TOO_LONG = "9" * (MAX_SEQ_DIGITS + 2) + "_bbbbbbbbbbbbbbbb"  # 20 digits
STAMP = "20260301120000_bbbbbbbbbbbbbbbb"  # a timestamp: over 32 bits
LONGEST = "9" * MAX_SEQ_DIGITS + "_c"
ZEROS = "0" * (MAX_SEQ_DIGITS + 4) + "7_d"  # leading zeros do not count
TOO_LARGE = f"sequence number too large (at most {MAX_SEQ_DIGITS} digits)"


def write(folder: Path, name: str, text: str, *, mtime_ns: int | None = None) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    if mtime_ns is None:
        mtime_ns = int((datetime.now(UTC).timestamp() - 10) * 1e9)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def indexer(folder: Path, store: Store, words_from: int | None = WORDS_FROM) -> Indexer:
    return Indexer(folder, store.articles, max_bytes=10_000, settle_ms=200, words_from=words_from)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "index"
    path.mkdir()
    return path


def test_a_sequence_number_too_large_to_store_is_one_bad_file(folder: Path, store: Store) -> None:
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Good"))
    write(folder, f"{TOO_LONG}.txt", TEXT.format(day=2, headline="Too long a number"))
    write(folder, f"{STAMP}.txt", TEXT.format(day=3, headline="A timestamp name"))
    write(folder, f"{LONGEST}.txt", TEXT.format(day=4, headline="The longest number"))
    write(folder, f"{ZEROS}.txt", TEXT.format(day=5, headline="Leading zeros"))
    scan = indexer(folder, store)
    report = scan.scan()
    assert sorted(report.new) == sorted(["001_a", STAMP, LONGEST, ZEROS])
    assert report.bad == (f"{TOO_LONG}.txt:0: {TOO_LARGE}",)
    row = article_row(store, STAMP)
    assert row is not None and row["seq"] == 20260301120000
    assert article_row(store, LONGEST)["seq"] == 10**MAX_SEQ_DIGITS - 1  # type: ignore[index]
    assert article_row(store, ZEROS)["seq"] == 7  # type: ignore[index]
    # the feed orders by it: same-day articles by their number
    write(folder, "002_b.txt", TEXT.format(day=3, headline="Same day"))
    assert scan.scan().new == ("002_b",)  # indexing goes on
    newest = [e.article.id for e in store.articles.newest(0, 10)]
    assert newest.index(STAMP) < newest.index("002_b")


def test_check_refuses_the_sequence_number_the_scan_refuses(folder: Path) -> None:
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Good"))
    write(folder, f"{TOO_LONG}.txt", TEXT.format(day=2, headline="Too long a number"))
    write(folder, f"{STAMP}.txt", TEXT.format(day=3, headline="A timestamp name"))
    result = CliRunner().invoke(cli, ["check", str(folder)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == f"{folder / TOO_LONG}.txt:0: {TOO_LARGE}"
    assert lines[-1] == "3 article files checked: 2 good, 1 bad"


def test_parse_refuses_a_sequence_number_it_cannot_store() -> None:
    with pytest.raises(ArticleError, match="sequence number too large"):
        parse(f"{TOO_LONG}.txt", TEXT.format(day=1, headline="X").encode())
    assert parse(f"{STAMP}.txt", TEXT.format(day=1, headline="X").encode()).seq == 20260301120000


def test_a_modification_time_past_64_bits_is_one_bad_file(folder: Path, store: Store) -> None:
    far = datetime(2300, 1, 1, tzinfo=UTC)  # past 2**63 nanoseconds since 1970
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Good"))
    late = write(folder, "002_b.txt", TEXT.format(day=2, headline="From the future"))
    os.utime(late, (far.timestamp(), far.timestamp()))
    scan = indexer(folder, store)
    report = scan.scan()
    assert report.new == ("001_a",)
    assert len(report.bad) == 1 and report.bad[0].startswith("002_b.txt:0: modification time")
    assert scan.scan().examined == 0  # remembered by its stat, not read again
    now = datetime.now(UTC).timestamp() - 10
    os.utime(late, (now, now))  # `touch` it: published
    assert scan.scan().new == ("002_b",)


def refuse_headlines_with(store: Store, word: str) -> None:
    """Make the database itself refuse one article: a trigger (SQLite) or a CHECK
    constraint (PostgreSQL) that our code knows nothing of."""
    with store.db.write() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse BEFORE INSERT ON articles "
                f"WHEN NEW.headline LIKE '%{word}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            conn.exec_driver_sql(
                "ALTER TABLE articles ADD CONSTRAINT refuse "
                f"CHECK (strpos(headline, '{word}') = 0) NOT VALID"
            )


@pytest.mark.parametrize("words_from", [WORDS_FROM, 1], ids=["small", "bulk"])
def test_a_write_the_database_refuses_names_the_file(
    folder: Path, store: Store, words_from: int
) -> None:
    """A bulk scan (words made in a second process; on PostgreSQL, batches written while
    the next is read) falls back file by file alike."""
    refuse_headlines_with(store, "FORBIDDEN")
    write(folder, "001_a.txt", TEXT.format(day=1, headline="Good"))
    write(folder, "002_b.txt", TEXT.format(day=2, headline="A FORBIDDEN headline"))
    write(folder, "003_c.txt", TEXT.format(day=3, headline="Also good"))
    scan = indexer(folder, store, words_from)
    report = scan.scan()
    assert sorted(report.new) == ["001_a", "003_c"]
    assert len(report.bad) == 1
    assert report.bad[0].startswith("002_b.txt:0: cannot be stored in the database: ")
    assert "INSERT" not in report.bad[0] and "paragraph" not in report.bad[0]  # no SQL, no body
    assert store.articles.count() == 2 and store.articles.get_state("baseline_done") is not None
    again = scan.scan()
    assert again.examined == 0 and again.bad == report.bad
    write(folder, "002_b.txt", TEXT.format(day=2, headline="A permitted headline"))
    assert scan.scan().new == ("002_b",)


@pytest.mark.slow
def test_the_daemon_publishes_beside_a_name_it_cannot_store(
    database_url: str, tmp_path: Path, start: Callable[..., Daemon]
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    write(index, "001_a.txt", TEXT.format(day=1, headline="Good"))
    write(index, f"{TOO_LONG}.txt", TEXT.format(day=2, headline="Too long a number"))
    write(index, f"{STAMP}.txt", TEXT.format(day=3, headline="A timestamp name"))
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__URL": database_url,
        "FEEDBOT_HTTP__PORT": "0",
        "FEEDBOT_INDEX__SETTLE_MS": "200",
    }  # no token: the playground is on
    d = start(env)
    d.wait_started(timeout=30)

    def ids() -> set[str]:
        return {
            e.id.rsplit(":", 1)[-1] for e in feedparser.parse(d.get("feed.atom").content).entries
        }

    assert ids() == {"001_a", STAMP}
    health = d.get("healthz")
    assert health.status_code == 200
    assert health.json()["bad"] == [f"{TOO_LONG}.txt:0: {TOO_LARGE}"]
    write(index, "002_b.txt", TEXT.format(day=4, headline="Added later"))
    until(lambda: "002_b" in ids(), what="an article added later")
    assert d.get("articles/002_b.html").status_code == 200
    until(lambda: d.get("playground/api/state").json()["running"], what="the playground")
    (index / f"{TOO_LONG}.txt").unlink()
    until(lambda: d.get("healthz").json()["bad"] == [], what="the bad file gone")
    assert "Traceback" not in d.log and "scan failed" not in d.log
