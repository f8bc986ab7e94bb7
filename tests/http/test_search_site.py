"""Search on the site of a real `feedbot run`: the results page, the search feeds with
ETag/304, hostile queries answered with a page and never a 500, and an edit found by
its new words as soon as it is stored."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.conftest import SEED
from tests.daemonkit import Daemon, atomic_write, fast_env
from tests.waiting import until

pytestmark = pytest.mark.slow


class Results(HTMLParser):
    """The headlines, marked words and messages of a results page."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.headlines: list[str] = []
        self.marked: list[str] = []
        self.tags: list[str] = []
        self._in: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()

    def handle_data(self, data: str) -> None:
        if self._in[-2:] == ["h2", "a"]:
            self.headlines.append(data)
        if self._in and self._in[-1] == "mark":
            self.marked.append(data)


@pytest.fixture
def daemon(tmp_path: Path, start: Callable[..., Daemon]) -> tuple[Daemon, Path]:
    index = tmp_path / "index"
    index.mkdir()
    (index / "000_seed.txt").write_bytes(SEED.read_bytes())
    atomic_write(
        index,
        "001_pens.txt",
        "date 2026-03-01 La riforma delle pensioni\n\n"
        "Il governo ha approvato le riforme in aula, e non si sa quando arriveranno.\n",
    )
    d = start(fast_env(tmp_path, index))
    d.wait_started(timeout=30)
    until(lambda: b"pensioni" in d.get("feed.atom").content, what="the articles")
    return d, index


def search(d: Daemon, path: str, q: str, **headers: str) -> httpx.Response:
    return httpx.get(d.url + path, params={"q": q}, headers=headers, timeout=10)


def test_results_page_feeds_and_edits(daemon: tuple[Daemon, Path]) -> None:
    d, index = daemon
    r = search(d, "search", "riforme")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = Results(r.text)
    assert page.headlines == ["La riforma delle pensioni"]
    assert "riforme" in page.marked
    assert 'action="search"' in r.text and 'value="riforme"' in r.text  # the box, refilled

    atom = search(d, "search.atom", "riforma")
    parsed = feedparser.parse(atom.content)
    assert parsed.bozo == 0 and [e.title for e in parsed.entries] == ["La riforma delle pensioni"]
    assert parsed.feed.id.startswith("tag:") and "search" in parsed.feed.id
    again = search(d, "search.atom", "riforma", **{"if-none-match": atom.headers["etag"]})
    assert again.status_code == 304
    for fmt in ("rss", "json"):
        assert search(d, f"search.{fmt}", "riforma").status_code == 200

    atomic_write(index, "001_pens.txt", "date 2026-03-01 Il bilancio\n\nLe tasse scendono.\n")
    until(
        lambda: Results(search(d, "search", "tasse").text).headlines == ["Il bilancio"], what="edit"
    )
    assert Results(search(d, "search", "pensioni").text).headlines == []
    changed = search(d, "search.atom", "riforma", **{"if-none-match": atom.headers["etag"]})
    assert changed.status_code == 200
    assert d.stop()[0] == 0


HOSTILE = [
    "",
    "   ",
    "<script>alert(1)</script>",
    'NEAR(a b) "unclosed -x * ^ : AND OR',
    "a" * 300,
    " ".join(f"w{i}" for i in range(10_000))[:1000],
    "\u202eRTL\u200b zero\u0301\u0301\u0301 width",
    "\x00\x01\x1f",
    '"""""',
    "'; DROP TABLE articles; --",
]


def test_hostile_queries_get_a_page_never_a_500(daemon: tuple[Daemon, Path]) -> None:
    d, _ = daemon
    for q in HOSTILE:
        r = search(d, "search", q)
        assert r.status_code == 200, (q, r.status_code)
        assert "<script>alert" not in r.text
        assert search(d, "search.atom", q).status_code == 200
    too_long = search(d, "search", "a" * 300).text
    assert "256" in too_long
    huge = httpx.get(d.url + "search?q=" + "x" * 60_000, timeout=10)
    assert huge.status_code in (200, 414, 431)
    assert Results(search(d, "search", "riforme").text).headlines  # still searching
    assert d.stop()[0] == 0
