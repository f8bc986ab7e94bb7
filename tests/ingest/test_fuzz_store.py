"""Fuzzing `feedbot check` and the real scan with files at the edges of every stored field —
sequence numbers, dates, lengths, Unicode — on SQLite and PostgreSQL: a scan never fails
as a whole, every file is stored or reported bad, `check` agrees with the scan, and what
is stored renders in the feeds and on its page."""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedbot.config import Settings
from feedbot.ingest.files import load_folder
from feedbot.ingest.scan import Indexer
from feedbot.publish.feeds import article_path
from feedbot.publish.site import Site
from feedbot.store import Store, StoreSource

OLD = 1_600_000_000  # every file settled long ago
MAX_BYTES = 20_000

# Characters that have broken text handling somewhere: combining marks, right-to-left
# text and marks, zero-width characters, astral emoji, a BOM, line and paragraph
# separators, markup and quotes, digits of other scripts.
ODD = (
    "e\u0301",
    "\u05d0\u05d1",
    "\u200f",
    "\u202e",
    "\u200b",
    "\u2060",
    "\ufeff",
    "😀",
    "👩\u200d👩\u200d👧",
    "\u2028",
    "\u2029",
    "<b>",
    "&amp;",
    '"',
    "'",
    "\\",
    "%",
    "٣",
    "ß",
    "İ",
    " ",
    "\t",
)
odd_text = st.lists(
    st.one_of(st.sampled_from(ODD), st.text(min_size=1, max_size=8)), max_size=12
).map("".join)
seq = st.one_of(
    st.just(""),
    st.integers(0, 10**25).map(str),
    st.integers(0, 30).map(lambda n: "0" * n + "1"),
    st.sampled_from(["2147483648", "20260301120000", "9223372036854775807", "9" * 18, "9" * 19]),
    st.text("0123456789٣", min_size=1, max_size=30),
)
stem = st.tuples(seq, st.sampled_from(["_", "-", ""]), odd_text).map("".join)
names = stem.map(lambda s: s + ".txt").filter(
    lambda n: (
        "/" not in n
        and "\x00" not in n
        and not n.startswith(".")
        and len(os.fsencode(n)) <= 255
        and n.isprintable()
    )  # the scan's escapes of unprintable names are tested elsewhere
)
dates = st.one_of(
    st.sampled_from(
        [
            "0001-01",
            "9999-12",
            "0001-01-01",
            "9999-12-31",
            "2024-02-29",
            "2023-02-29",
            "2022-13-01",
            "0000-01-01",
            "9999-12-31T23:59:59.999999+00:00",
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "2022-01-14T09:30:00-23:59",
            "1970-01-01T00:00:00Z",
            "2999-01-01T00:00:00Z",
            "2022-01-14T09:30:00",
        ]
    ),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
)
headline = st.one_of(odd_text, st.integers(1, 3000).map(lambda n: "H" * n))
paragraphs = st.lists(
    st.one_of(odd_text, st.integers(1, 5000).map(lambda n: "word " * n)), max_size=5
)
texts = st.tuples(dates, headline, paragraphs).map(
    lambda t: f"date {t[0]} {t[1]}\n\n" + "\n\n".join(t[2]) + "\n"
)
files = st.dictionaries(names, texts, min_size=1, max_size=6)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(files=files)
def test_every_file_is_stored_or_reported_bad(store: Store, files: dict[str, str]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-store-"))
    indexer = Indexer(folder, store.articles, max_bytes=MAX_BYTES, settle_ms=0)
    try:
        for name, text in files.items():
            path = folder / name
            path.write_bytes(text.encode("utf-8", "surrogatepass"))
            os.utime(path, (OLD, OLD))
        checked, errors = load_folder(folder, max_bytes=MAX_BYTES)
        report = indexer.scan(datetime.now(UTC))  # never raises for a file's values

        bad = set(indexer.bad)  # names as on disk (the report escapes them)
        assert len(report.bad) == len(bad)
        stored = set(indexer.known)
        assert stored | bad == set(files) and not stored & bad, report.bad
        good_in_check = {Path(a.id).name + ".txt" for a in checked}
        assert good_in_check == stored, ([str(e) for e in errors], report.bad)

        site = Site(StoreSource(store.articles), Settings().feed)
        published = {e.article.id for e in store.articles.newest(0, 1000)}
        assert published <= {name.removesuffix(".txt") for name in stored}  # less scheduled
        for fmt in ("feed.rss", "feed.json"):
            assert site.get(fmt) is not None
        atom = site.get("feed.atom")
        assert atom is not None
        assert len(feedparser.parse(atom.body).entries) == len(published)
        for article_id in published:
            assert site.get(article_path(article_id)) is not None, article_id
    finally:
        shutil.rmtree(folder)
        folder.mkdir()
        indexer.scan(datetime.now(UTC))  # every article removed: the next example starts clean
        shutil.rmtree(folder)
