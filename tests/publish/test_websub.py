"""WebSub publisher pings, against a hub double on 127.0.0.1 over real HTTP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import httpx
import pytest

from feedbot.publish.websub import ping_hub

TOPICS = ["https://news.example/feed.atom", "https://news.example/feed.rss"]


@dataclass
class HubDouble:
    """A tiny HTTP/1.1 server that records pings and answers ``fail_first`` of them with 503."""

    fail_first: int = 0
    fail_status: int = 503
    pings: list[dict[str, list[str]]] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    requests: int = 0
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                if self.requests <= self.fail_first:
                    status = f"{self.fail_status} Failing"
                else:
                    status = "204 No Content"
                    self.pings.append(parse_qs(body.decode()))
                    self.content_types.append(headers.get("content-type", ""))
                writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def hub() -> AsyncIterator[HubDouble]:
    double = HubDouble()
    server = await asyncio.start_server(double.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    double.url = f"http://127.0.0.1:{port}/hub"
    async with server:
        yield double


async def test_ping_publishes_every_topic(hub: HubDouble) -> None:
    async with httpx.AsyncClient() as client:
        assert await ping_hub(client, hub.url, TOPICS) is True
    assert hub.pings == [{"hub.mode": ["publish"], "hub.url": [topic]} for topic in TOPICS]
    assert all(ct == "application/x-www-form-urlencoded" for ct in hub.content_types)


async def test_ping_retries_server_errors(hub: HubDouble, caplog: pytest.LogCaptureFixture) -> None:
    hub.fail_first = 2
    async with httpx.AsyncClient() as client:
        assert await ping_hub(client, hub.url, TOPICS[:1], base_delay=0.01) is True
    assert hub.requests == 3
    assert hub.pings == [{"hub.mode": ["publish"], "hub.url": [TOPICS[0]]}]


async def test_ping_gives_up_after_attempts(
    hub: HubDouble, caplog: pytest.LogCaptureFixture
) -> None:
    hub.fail_first = 100
    with caplog.at_level(logging.WARNING, logger="feedbot.websub"):
        async with httpx.AsyncClient() as client:
            ok = await ping_hub(client, hub.url, TOPICS[:1], attempts=3, base_delay=0.01)
    assert ok is False
    assert hub.requests == 3
    assert any("after 3 attempt(s)" in r.getMessage() for r in caplog.records)


async def test_ping_does_not_retry_client_errors(hub: HubDouble) -> None:
    hub.fail_first, hub.fail_status = 100, 400
    async with httpx.AsyncClient() as client:
        assert await ping_hub(client, hub.url, TOPICS, base_delay=0.01) is False
    assert hub.requests == 2  # one per topic, no retries


async def test_ping_unreachable_hub_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens on this port now
    with caplog.at_level(logging.WARNING, logger="feedbot.websub"):
        async with httpx.AsyncClient() as client:
            ok = await ping_hub(
                client, f"http://127.0.0.1:{port}/", TOPICS[:1], attempts=2, base_delay=0.01
            )
    assert ok is False
    assert any("ConnectError" in r.getMessage() for r in caplog.records)


async def test_ping_bad_hub_url_never_raises() -> None:
    async with httpx.AsyncClient() as client:
        assert await ping_hub(client, "not a url", TOPICS[:1], base_delay=0.01) is False
