"""Fuzzing the HTTP server: raw request bytes against the real app on real uvicorn and a socket.

Never a 500, never a hang (each connection answers or closes within a bound),
and `/healthz` answers throughout.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedbot.article import Entry
from feedbot.config import Settings
from feedbot.files import read_article
from feedbot.httpguard import HttpLimits
from feedbot.site import MemorySource, Site
from feedbot.web import HttpServer, bind_server, create_app
from tests.conftest import SEED

BOUND = 3.0  # seconds a connection may take to answer or close (header timeout 1 s)


@pytest.fixture(scope="module")
def server() -> Iterator[HttpServer]:
    config = Settings()
    site = Site(MemorySource([Entry.of(read_article(SEED, max_bytes=1 << 20))]), config)
    limits = HttpLimits(header_timeout=1.0, max_connections=100)
    http = bind_server(create_app(site, config), "127.0.0.1", 0, limits=limits)
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
