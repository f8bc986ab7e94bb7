"""Hostile queries against the site of a real `feedbot run` (issue 19, "Bad input"),
property-tested: ``/search?q=…`` and ``/search.atom?q=…`` answer 200 (or 400) with a
page or a feed, never a 500; a query that cannot run gets its reason on the page; and
what was typed never reaches the page as markup (the page is parsed: its tags and
attributes are those of an ordinary results page, the search box holds the text as
typed, and no character HTML or XML cannot carry is written)."""

from __future__ import annotations

import contextlib
import re
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import quote

import feedparser
import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feedbot.http.guard import MAX_URL_BYTES
from feedbot.publish.body import clean_text
from feedbot.search.query import QueryError, parse
from tests.conftest import SEED
from tests.daemonkit import Daemon, atomic_write, fast_env
from tests.searchkit import HOSTILE, SOURCES, sized
from tests.waiting import until

pytestmark = pytest.mark.slow

#: Characters that an HTML page must not hold raw (XML 1.0 cannot carry them either).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Page(HTMLParser):
    """The tags and attribute names of a page, and the search box's value."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: set[tuple[str, str]] = set()
        self.boxes: list[str | None] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update((tag, name) for name, _ in attrs)
        if tag == "input" and dict(attrs).get("name") == "q":
            self.boxes.append(dict(attrs).get("value"))


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("site")
    index = tmp / "index"
    index.mkdir()
    (index / SEED.name).write_bytes(SEED.read_bytes())
    for name, text in SOURCES:
        atomic_write(index, name, text)
    d = Daemon(tmp, fast_env(tmp, index))
    try:
        d.wait_started(timeout=30)
        until(lambda: b"pensioni" in d.get("feed.atom").content, what="the articles")
        yield d
        assert d.stop()[0] == 0
    finally:
        d.kill()


@pytest.fixture(scope="module")
def ordinary(daemon: Daemon) -> Page:
    """What a results page may hold: the tags and attributes of ordinary answers (found,
    none found, refused)."""
    pages = [search(daemon, "search", q).text for q in ("riforma", "nulla", "a" * 300)]
    return Page("".join(pages))


def search(d: Daemon, path: str, q: str) -> httpx.Response:
    return httpx.get(d.url + path, params={"q": q}, timeout=30)


def too_long(q: str) -> bool:
    """Whether the request target passes the server's limit (answered 414 by design)."""
    return len("/search.atom?q=" + quote(q)) > MAX_URL_BYTES


def status_of_raw(d: Daemon, target: str) -> bytes:
    """The status line the server answers a request for ``target`` with, sent raw (httpx
    refuses URLs past 64 KB; the server may close before reading it all)."""
    host, port = d.url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        with contextlib.suppress(OSError):
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = b""
        with contextlib.suppress(OSError):
            while b"\r\n" not in answer and (chunk := s.recv(4096)):
                answer += chunk
    return answer.split(b"\r\n", 1)[0]


@HOSTILE
@given(sized())
@example("<script>alert(1)</script>")
@example("\x0e ")  # was written raw into the search box
def test_hostile_queries_get_a_page_or_a_reason(daemon: Daemon, ordinary: Page, q: str) -> None:
    if too_long(q):
        for path in ("/search", "/search.atom"):
            assert status_of_raw(daemon, f"{path}?q={quote(q)}").startswith(b"HTTP/1.1 414 ")
        return
    page = search(daemon, "search", q)
    assert page.status_code in (200, 400), (q, page.status_code)
    assert not _NOT_XML.search(page.text), ascii(_NOT_XML.findall(page.text))
    parsed = Page(page.text)
    assert parsed.tags <= ordinary.tags, parsed.tags - ordinary.tags
    assert parsed.attributes <= ordinary.attributes, parsed.attributes - ordinary.attributes
    typed = clean_text(q[:1024].strip())
    assert parsed.boxes == [typed]  # the box holds what was typed, as text
    try:
        parse(q[:1024].strip())
    except QueryError as e:
        assert str(e) in page.text  # the site speaks English by default
    feed = search(daemon, "search.atom", q)
    assert feed.status_code in (200, 400), (q, feed.status_code)
    assert feedparser.parse(feed.content).bozo == 0


@settings(HOSTILE, max_examples=20)
@given(st.lists(st.sampled_from(["q=a", "q=", "page=2", "x", "&", "=", "q=%FF", "page=-1"])))
@example(["q=roma"] + ["x=1"] * 9)  # more fields than the parser takes
def test_hostile_query_strings_never_fail(daemon: Daemon, fields: list[str]) -> None:
    for path in ("search", "search.atom"):
        r = httpx.get(daemon.url + path + "?" + "&".join(fields), timeout=30)
        assert r.status_code in (200, 400), (fields, r.status_code)


def test_the_corpus_is_found(daemon: Daemon) -> None:
    assert "La riforma delle pensioni" in search(daemon, "search", "riforme").text
