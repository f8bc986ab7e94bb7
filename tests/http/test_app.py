"""The web app through httpx's ASGITransport, and once over a real socket with uvicorn."""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message

from feedbot.config import Settings
from feedbot.errors import FeedbotError
from feedbot.http.app import create_app, route_label
from feedbot.http.server import bind_server
from feedbot.publish.site import Site
from tests.sitekit import CountingSource, entries, site

SETTINGS = Settings(
    feed={"max_entries": 5, "base_url": "https://news.example/"},
    http={"cache_max_age": 123},
)
ARTICLE = "/articles/001_0000000000000001.html"


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def app(registry: CollectorRegistry) -> ASGIApp:
    return create_app(site(12, SETTINGS), SETTINGS.http, registry=registry)


@pytest.fixture
async def client(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def raw_request(
    app: ASGIApp, raw_path: bytes, *, method: str = "GET", path: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Call the ASGI app with a path exactly as a client could send it (no normalising)."""
    from urllib.parse import unquote_to_bytes

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path if path is not None else unquote_to_bytes(raw_path).decode("latin-1"),
        "raw_path": raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in messages[1:])
    return start["status"], headers, body


FEEDS = [
    ("/feed.atom", "application/atom+xml; charset=utf-8"),
    ("/feed.rss", "application/rss+xml; charset=utf-8"),
    ("/feed.json", "application/feed+json"),
    ("/archive/1.atom", "application/atom+xml; charset=utf-8"),
    ("/", "text/html; charset=utf-8"),
    ("/index.html", "text/html; charset=utf-8"),
    ("/page/1.html", None),
    (ARTICLE, "text/html; charset=utf-8"),
]


@pytest.mark.parametrize(("path", "content_type"), FEEDS)
async def test_get_types_and_cache_headers(
    client: httpx.AsyncClient, path: str, content_type: str | None
) -> None:
    r = await client.get(path, headers={"accept-encoding": "identity"})
    if content_type is None:
        assert r.status_code == 404
        return
    assert r.status_code == 200
    assert r.headers["content-type"] == content_type
    assert r.headers["cache-control"] == "public, max-age=123"
    assert r.headers["vary"] == "Accept-Encoding"
    assert r.headers["etag"].startswith('"') and r.headers["etag"].endswith('"')
    assert r.headers["last-modified"].endswith(" GMT")
    assert "content-encoding" not in r.headers
    assert int(r.headers["content-length"]) == len(r.content)
    assert "link" not in r.headers  # no hub configured


async def test_root_is_index(client: httpx.AsyncClient) -> None:
    root, index = await client.get("/"), await client.get("/index.html")
    assert root.content == index.content and root.headers["etag"] == index.headers["etag"]
    assert b'<link rel="alternate" type="application/atom+xml"' in root.content


async def test_etag_round_trip(client: httpx.AsyncClient) -> None:
    first = await client.get("/feed.atom")
    etag = first.headers["etag"]
    again = await client.get("/feed.atom", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=123"
    assert again.headers["vary"] == "Accept-Encoding"
    assert "content-length" not in again.headers or again.headers["content-length"] == "0"
    listed = await client.get("/feed.atom", headers={"if-none-match": f'"x", W/{etag}'})
    assert listed.status_code == 304  # weak comparison, lists
    star = await client.get("/feed.atom", headers={"if-none-match": "*"})
    assert star.status_code == 304
    other = await client.get("/feed.atom", headers={"if-none-match": '"other"'})
    assert other.status_code == 200 and other.content == first.content


async def test_last_modified_round_trip(client: httpx.AsyncClient) -> None:
    first = await client.get(ARTICLE)
    lm = first.headers["last-modified"]
    assert lm == "Sun, 02 Jan 2022 00:00:00 GMT"  # the entry's updated, not now
    assert (await client.get(ARTICLE, headers={"if-modified-since": lm})).status_code == 304
    later = "Mon, 01 Jan 2024 00:00:00 GMT"
    assert (await client.get(ARTICLE, headers={"if-modified-since": later})).status_code == 304
    earlier = "Sat, 01 Jan 2022 23:59:59 GMT"
    assert (await client.get(ARTICLE, headers={"if-modified-since": earlier})).status_code == 200
    bad = await client.get(ARTICLE, headers={"if-modified-since": "yesterday"})
    assert bad.status_code == 200


async def test_if_none_match_takes_precedence(client: httpx.AsyncClient) -> None:
    first = await client.get("/feed.rss")
    lm, etag = first.headers["last-modified"], first.headers["etag"]
    stale = await client.get(
        "/feed.rss", headers={"if-none-match": '"old"', "if-modified-since": lm}
    )
    assert stale.status_code == 200  # the ETag differs: Last-Modified is not consulted
    fresh = await client.get(
        "/feed.rss",
        headers={"if-none-match": etag, "if-modified-since": "Sat, 01 Jan 2000 00:00:00 GMT"},
    )
    assert fresh.status_code == 304


async def test_gzip(client: httpx.AsyncClient) -> None:
    plain = await client.get("/feed.json", headers={"accept-encoding": "identity"})
    zipped = await client.get("/feed.json", headers={"accept-encoding": "br, gzip;q=0.5"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(plain.content)
    assert zipped.headers["etag"] != plain.headers["etag"]  # a different representation
    refused = await client.get("/feed.json", headers={"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers
    again = await client.get(
        "/feed.json",
        headers={"accept-encoding": "gzip", "if-none-match": zipped.headers["etag"]},
    )
    assert again.status_code == 304 and again.headers["etag"] == zipped.headers["etag"]
    # The compressed bytes are the precomputed ones.
    status, _headers, body = await raw_request_with(client, "/feed.json", b"gzip")
    assert status == 200 and gzip.decompress(body) == plain.content


async def raw_request_with(
    client: httpx.AsyncClient, path: str, encoding: bytes
) -> tuple[int, dict[str, str], bytes]:
    async with client.stream("GET", path, headers={"accept-encoding": encoding.decode()}) as r:
        raw = b"".join([chunk async for chunk in r.aiter_raw()])
        return r.status_code, dict(r.headers), raw


async def test_head(client: httpx.AsyncClient) -> None:
    get = await client.get("/feed.atom", headers={"accept-encoding": "identity"})
    head = await client.head("/feed.atom", headers={"accept-encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.headers["etag"] == get.headers["etag"]
    missing = await client.head("/nope")
    assert missing.status_code == 404 and missing.content == b""


async def test_not_found_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/nope.html")
    assert r.status_code == 404
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<h1>Not found</h1>" in r.content


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"])
async def test_other_methods(client: httpx.AsyncClient, method: str) -> None:
    r = await client.request(method, "/feed.atom")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    r = await client.request(method, "/healthz")
    assert r.status_code == 405


@pytest.mark.parametrize(
    "raw",
    [
        b"/../../etc/passwd",
        b"/articles/../feed.atom",
        b"/%2e%2e/%2e%2e/etc/passwd",
        b"/%2E%2E%2Fetc%2Fpasswd",
        b"/articles/..%2f..%2fetc%2fpasswd",
        b"/articles%5c..%5cfeed.atom",
        b"/articles\\..\\feed.atom",
        b"/feed.atom%00.html",
        b"//etc/passwd",
        b"/etc/passwd",
        b"/pyproject.toml",
        b"/feedbot/templates/base.html",
        b"/" + b"a" * 5000,
    ],
)
async def test_traversal(app: ASGIApp, raw: bytes) -> None:
    status, _headers, body = await raw_request(app, raw)
    assert status in (400, 404)
    assert b"root:" not in body and b"[project]" not in body and b"{%" not in body


async def test_decoded_path_is_not_trusted(app: ASGIApp) -> None:
    # A server that decoded %2F into the path must not let it reach the site.
    status, _, _ = await raw_request(app, b"/articles%2F001_0000000000000001.html")
    assert status == 400


async def test_healthz(registry: CollectorRegistry) -> None:
    calls = []

    def health() -> tuple[dict[str, Any], bool]:
        calls.append(1)
        return ({"status": "degraded", "articles": 12}, len(calls) < 2)

    for check, expected in ((None, [({"status": "ok"}, 200)]), (health, None)):
        app = create_app(
            site(1, SETTINGS), SETTINGS.http, registry=CollectorRegistry(), health=check
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as c:
            if expected:
                r = await c.get("/healthz")
                assert (r.json(), r.status_code) == expected[0]
                assert r.headers["content-type"] == "application/json"
            else:
                ok, bad = await c.get("/healthz"), await c.get("/healthz")
                assert ok.status_code == 200 and ok.json()["articles"] == 12
                assert bad.status_code == 503 and bad.json()["status"] == "degraded"


async def test_metrics(client: httpx.AsyncClient) -> None:
    await client.get("/feed.atom")
    await client.get("/feed.atom")
    await client.get(ARTICLE)
    await client.get("/articles/nope.html")
    await client.post("/feed.atom")
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    line = 'feedbot_http_requests_total{method="GET",route="/feed.atom",status="200"} 2.0'
    assert line in text
    assert 'route="/articles/{id}.html",status="200"} 1.0' in text
    assert 'route="/articles/{id}.html",status="404"} 1.0' in text
    assert 'method="POST",route="/feed.atom",status="405"} 1.0' in text
    assert 'route="/healthz",status="200"} 1.0' in text
    assert "nope" not in text  # raw paths never become labels


def test_route_label() -> None:
    assert route_label("/") == "/"
    assert route_label("/archive/3.rss") == "/archive/{n}.{format}"
    assert route_label("/page/4.html") == "/page/{n}.html"
    assert route_label("/whatever/x") == "other"


async def test_extra_routes_and_shared_registry(registry: CollectorRegistry) -> None:
    async def hook(request: Request) -> Response:
        return PlainTextResponse("hooked")

    s = site(2, SETTINGS)
    create_app(s, SETTINGS.http, registry=registry)  # the same registry twice is fine
    app = create_app(
        s,
        SETTINGS.http,
        registry=registry,
        routes=[Route("/telegram/webhook", hook, methods=["POST"])],
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.post("/telegram/webhook")).text == "hooked"
        assert (await c.get("/telegram/webhook")).status_code == 405
        assert (await c.get("/feed.atom")).status_code == 200
        metrics = (await c.get("/metrics")).text
    assert 'route="/telegram/webhook",status="200"} 1.0' in metrics


@pytest.mark.parametrize("base", ["https://news.example/site", "https://news.example/site//"])
async def test_websub_link_headers(base: str) -> None:
    settings = Settings(feed={"base_url": base, "websub_hub": "https://hub.example/"})
    app = create_app(site(2, settings), settings.http, registry=CollectorRegistry())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        atom = await c.get("/feed.atom")
        page = await c.get("/index.html")
    assert atom.headers["link"] == (
        '<https://hub.example/>; rel="hub", <https://news.example/site/feed.atom>; rel="self"'
    )
    assert "link" not in page.headers


async def test_content_follows_source_changes() -> None:
    from tests.publish.test_site import CountingSource

    source = CountingSource(entries(3))

    app = create_app(Site(source, SETTINGS.feed), SETTINGS.http, registry=CollectorRegistry())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        first = await c.get("/feed.atom")
        source.replace_all(entries(4))
        second = await c.get("/feed.atom", headers={"if-none-match": first.headers["etag"]})
    assert second.status_code == 200 and b"Headline 3" in second.content


async def test_real_socket() -> None:
    """One round trip over a real socket: uvicorn on 127.0.0.1, port 0, in this loop."""
    app = create_app(site(3, SETTINGS), SETTINGS.http, registry=CollectorRegistry())
    server = bind_server(app, "127.0.0.1", 0)
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}/"
    task = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(base_url=server.url) as c:
            first = await c.get("/feed.atom")
            assert first.status_code == 200
            assert first.headers["content-encoding"] == "gzip"  # httpx asks for it
            second = await c.get("/feed.atom", headers={"if-none-match": first.headers["etag"]})
            assert second.status_code == 304 and second.content == b""
            lm = first.headers["last-modified"]
            third = await c.get("/feed.atom", headers={"if-modified-since": lm})
            assert third.status_code == 304
            assert (await c.get("/healthz")).json() == {"status": "ok"}
        # A traversal attempt exactly as sent on the wire.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        await writer.drain()
        response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.1 400") and b"root:" not in response
        # Huge headers: a 4xx from the HTTP layer, not a 500.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000)
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"\r\n\r\n")
        response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.1 4"), response[:40]
    finally:
        server.stop()
        await asyncio.wait_for(task, 10)


async def test_port_in_use() -> None:
    app = create_app(site(1, SETTINGS), SETTINGS.http, registry=CollectorRegistry())
    first = bind_server(app, "127.0.0.1", 0)
    try:
        with pytest.raises(FeedbotError, match=rf"127\.0\.0\.1:{first.port}: port in use"):
            bind_server(app, "127.0.0.1", first.port)
    finally:
        first.socket.close()


def test_connections_write_at_once() -> None:
    """Accepted connections have TCP_NODELAY: without it, on asyncio's loop, a response
    written as headers then body waited ~40 ms for the client's delayed ACK."""
    app = create_app(site(1, SETTINGS), SETTINGS.http, registry=CollectorRegistry())
    server = bind_server(app, "127.0.0.1", 0)
    server.socket.setblocking(True)
    try:
        with socket.create_connection(("127.0.0.1", server.port)):
            accepted, _ = server.socket.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        server.socket.close()


def test_http_date_format() -> None:
    # Last-Modified uses the IMF-fixdate form (RFC 9110).
    from datetime import UTC, datetime

    assert format_datetime(datetime(2022, 1, 2, tzinfo=UTC), usegmt=True) == (
        "Sun, 02 Jan 2022 00:00:00 GMT"
    )


def test_cli_serve_port_in_use(tmp_path: Path) -> None:
    import socket

    from click.testing import CliRunner

    from feedbot.cli import cli

    index = tmp_path / "seeds"
    index.mkdir()
    config = tmp_path / "feedbot.toml"
    config.write_text(f'[index]\npath = "{index}"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--config", str(config), "serve", "--port", str(port)])
    assert result.exit_code == 2
    assert result.stderr == f"feedbot: error: cannot listen on 127.0.0.1:{port}: port in use\n"


_PIECES = [
    b"/",
    b"..",
    b".",
    b"%2e",
    b"%2F",
    b"%5c",
    b"%00",
    b"\\",
    b"\x00",
    b"?q",
    b"feed.atom",
    b"index.html",
    b"articles/",
    b"000_0000000000000000.html",
    b"archive/",
    b"1.json",
    b"page/",
    b"2.html",
]


@settings(max_examples=300, deadline=None)
@given(raw=st.one_of(st.binary(max_size=80), st.lists(st.sampled_from(_PIECES)).map(b"".join)))
def test_any_path_is_answered_without_error(raw: bytes) -> None:
    raw = b"/" + raw
    app = create_app(_SITE, SETTINGS.http, registry=CollectorRegistry())
    status, _, _ = asyncio.run(raw_request(app, raw))
    assert status in (200, 400, 404)
    if status == 200:
        path = raw.partition(b"?")[0][1:].decode("latin-1")
        assert _SITE.get(path or "index.html") is not None


_SITE = site(3, SETTINGS)


async def test_a_last_modified_ahead_of_the_date_is_not_sent() -> None:
    """Bytes changed twice within a second carry a Last-Modified one
    second on; until that second comes it is left out and If-Modified-Since is not
    answered 304, so no reader is told "not modified" about bytes it has not seen."""
    ahead = datetime.now(UTC) + timedelta(hours=1)  # the site's clock runs an hour fast
    source = CountingSource(entries(3))
    app = create_app(Site(source, SETTINGS.feed, clock=lambda: ahead), SETTINGS.http)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        first = await c.get("/feed.atom")
        lm = first.headers["last-modified"]
        assert lm == "Mon, 03 Jan 2022 00:00:00 GMT"  # the newest entry: in the past, sent
        source.replace_all(entries(4))
        changed = await c.get("/feed.atom")
        assert changed.status_code == 200 and "last-modified" not in changed.headers
        assert "date" in changed.headers
        ims = await c.get("/feed.atom", headers={"if-modified-since": changed.headers["date"]})
        assert ims.status_code == 200
        inm = await c.get("/feed.atom", headers={"if-none-match": changed.headers["etag"]})
        assert inm.status_code == 304 and "last-modified" not in inm.headers
