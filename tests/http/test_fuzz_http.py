"""Fuzzing the HTTP server: raw request bytes against the real app on real uvicorn and a socket.

Never a 500, never a hang (each connection answers or closes within a bound),
and `/healthz` answers throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedbot.articles.model import Entry
from feedbot.config import Settings
from feedbot.http.app import create_app
from feedbot.http.guard import MAX_BODY_BYTES, HttpLimits, loads_json
from feedbot.http.server import HttpServer, bind_server
from feedbot.ingest.files import read_article
from feedbot.publish.site import MemorySource, Site
from tests.conftest import SEED

BOUND = 3.0  # seconds a connection may take to answer or close (header timeout 1 s)


@pytest.fixture(scope="module")
def server() -> Iterator[HttpServer]:
    config = Settings()
    site = Site(MemorySource([Entry.of(read_article(SEED, max_bytes=1 << 20))]), config.feed)
    limits = HttpLimits(header_timeout=1.0, max_connections=100)
    http = bind_server(create_app(site, config.http), "127.0.0.1", 0, limits=limits)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(http.serve(),), daemon=True)
    thread.start()
    yield http
    loop.call_soon_threadsafe(http.stop)
    thread.join(timeout=10)
    loop.close()


def exchange(http: HttpServer, data: bytes) -> bytes:
    """Send ``data``, half-close, read until the server closes; fail past `BOUND`."""
    with socket.create_connection((http.host, http.port), timeout=BOUND) as s:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may refuse and close before reading it all
        chunks = []
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
        except TimeoutError:
            pytest.fail(f"no answer and no close within {BOUND}s for {data[:200]!r}")
    return b"".join(chunks)


def healthy(http: HttpServer) -> bool:
    return exchange(http, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 200 ")


_METHOD = st.sampled_from([b"GET", b"HEAD", b"POST", b"OPTIONS", b"G\x00T", b"", b"PRI"])
_TARGET = st.one_of(
    st.sampled_from([b"/", b"*", b"/feed.atom", b"/healthz", b"/../etc/passwd", b"//x", b""]),
    st.binary(max_size=300),
    st.builds(lambda n: b"/" + b"a" * n, st.integers(0, 20000)),
)
_VERSION = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b""])
_HEADER = st.tuples(st.binary(max_size=40), st.binary(max_size=200))
_TAIL = st.sampled_from([b"\r\n\r\n", b"\r\n", b"", b"\n\n"])


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    if draw(st.booleans()):
        return draw(st.binary(max_size=2000))
    head = draw(_METHOD) + b" " + draw(_TARGET) + b" " + draw(_VERSION) + b"\r\n"
    for name, value in draw(st.lists(_HEADER, max_size=6)):
        head += name + b": " + value + b"\r\n"
    return head + draw(_TAIL) + draw(st.binary(max_size=100))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=requests())
def test_raw_requests_never_500_never_hang(server: HttpServer, data: bytes) -> None:
    answer = exchange(server, data)
    assert not answer.startswith(b"HTTP/1.1 5"), (data[:300], answer[:300])
    assert healthy(server)


# --- a body is judged by its route's limit, not the head's, and never reaches a recursion limit ---


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from([b"/", b"/feed.atom", b"/healthz", b"/metrics"]),
    size=st.integers(0, 3 * MAX_BODY_BYTES),
    chunked=st.booleans(),
)
def test_a_body_of_any_size_is_judged_by_its_route(
    server: HttpServer, path: bytes, size: int, chunked: bool
) -> None:
    body = b"x" * size
    if chunked:
        framing, body = b"Transfer-Encoding: chunked", b"%x\r\n%s\r\n0\r\n\r\n" % (size, body)
        if size == 0:
            body = b"0\r\n\r\n"
    else:
        framing = b"Content-Length: %d" % size
    head = b"POST %s HTTP/1.1\r\nHost: x\r\n%s\r\nConnection: close\r\n\r\n" % (path, framing)
    answer = exchange(server, head + body)
    routed = path in (b"/healthz", b"/metrics")  # Starlette's routes; the site answers 405
    expected = b"413" if routed and size > MAX_BODY_BYTES else b"405"
    assert answer.startswith(b"HTTP/1.1 " + expected + b" "), (path, size, chunked, answer[:200])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='"\\[]{}ab\n'),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=20,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(value=_JSON, wrap=st.integers(0, 5000), limit=st.integers(1, 80))
def test_json_nesting_is_judged_before_parsing(value: object, wrap: int, limit: int) -> None:
    raw = "[" * wrap + json.dumps(value) + "]" * wrap
    depth = wrap + _depth(value)
    if depth > limit:
        with pytest.raises(ValueError, match="nested deeper"):
            loads_json(raw.encode(), limit)
    else:
        assert loads_json(raw.encode(), limit) == json.loads(raw)


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=20000) | st.builds(lambda n: b"[" * n, st.integers(0, 20000)))
def test_no_body_reaches_a_recursion_limit(raw: bytes) -> None:
    with contextlib.suppress(ValueError):  # not JSON, or nested too deep: a 400
        loads_json(raw)  # never a RecursionError
