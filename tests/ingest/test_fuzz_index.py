"""Fuzzing the scan with file names made of arbitrary bytes, written into a real folder."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from feedbot.articles.names import MAX_ID_URL_CHARS
from feedbot.ingest.scan import Indexer
from feedbot.store import Store

GOOD = b"date 2022-01-%02d Headline %d.\n\nA paragraph of the article, long enough.\n"
OLD = 1_600_000_000

stems = st.binary(min_size=1, max_size=120).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
)
names = st.one_of(stems.map(lambda b: b + b".txt"), stems)


def publishable(name: bytes) -> bool:
    """The name rules, restated from the README rather than imported."""
    if not name.endswith(b".txt") or name.startswith(b"."):
        return False
    if name.endswith((b".tmp", b".part", b"~", b".swp")):
        return False
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    stem = name[: -len(b".txt")]
    return b"\\" not in name and len(quote(stem, safe="-_.~")) <= MAX_ID_URL_CHARS


def article_like(name: bytes) -> bool:
    return (
        name.endswith(b".txt")
        and not name.startswith(b".")
        and not name.endswith((b".tmp", b".part", b"~", b".swp"))
    )


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(names, st.booleans()), max_size=8, unique_by=lambda t: t[0]))
def test_scan_survives_any_file_names(files: list[tuple[bytes, bool]]) -> None:
    collect = Collect()
    logger = logging.getLogger("feedbot.index")
    logger.addHandler(collect)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "index"
        folder.mkdir()
        for i, (name, good) in enumerate(files):
            path = os.path.join(os.fsencode(folder), name)
            with open(path, "wb") as f:
                f.write(GOOD % (1 + i % 28, i) if good else b"no date line\n")
            os.utime(path, (OLD, OLD))
        store = Store.open(Path(tmp) / "db.sqlite3")
        try:
            indexer = Indexer(folder, store.articles, max_bytes=10_000, settle_ms=500)
            report = indexer.scan()
            again = indexer.scan()
            count = store.articles.count()
        finally:
            store.close()
            logger.removeHandler(collect)
    expected = sorted(
        os.fsdecode(n[: -len(b".txt")]) for n, good in files if good and publishable(n)
    )
    bad = [n for n, good in files if article_like(n) and not (good and publishable(n))]
    assert sorted(report.new) == expected and count == len(expected)
    assert len(report.bad) == len(set(report.bad)) == len(bad)  # every bad file, once
    for line in (*report.bad, *collect.messages):
        line.encode("utf-8")  # a log line or /healthz can carry it
        assert "\n" not in line and "\r" not in line
    assert len(collect.messages) == len(bad)  # warned once, not again on the next scan
    assert again.changes == 0 and again.examined == 0 and again.bad == report.bad
