"""The event-loop lag probe: a blocked loop shows in its histogram."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, generate_latest

from feedbot.looplag import LoopLag


async def test_a_blocking_call_shows_as_lag() -> None:
    registry = CollectorRegistry()
    probe = LoopLag(registry, interval=0.01)
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(0.05)
    assert probe.worst < 0.1
    time.sleep(0.3)  # the point: block the loop
    await asyncio.sleep(0.05)
    task.cancel()
    assert probe.worst >= 0.25
    text = generate_latest(registry).decode()
    assert 'feedbot_event_loop_lag_seconds_bucket{le="0.5"}' in text
    assert "feedbot_event_loop_lag_seconds_count" in text


async def test_an_http_request_on_the_loop_searches_no_import_path() -> None:
    """httpcore does ``import sniffio`` on every request; without sniffio installed that
    failed import searches ``sys.path`` (a stat per entry) on the loop thread each time:
    ~0.1 ms per call idle, and a GIL wait per stat while a scan parses."""
    import http.server
    import sys
    import threading

    import httpx

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    imports: list[str] = []
    counting = [False]

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event == "import" and counting[0]:
            imports.append(str(args[0]))

    sys.addaudithook(hook)  # cannot be removed; it only counts while `counting`
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        async with httpx.AsyncClient() as client:
            (await client.get(url)).raise_for_status()  # first use may import lazily
            counting[0] = True
            for _ in range(3):
                (await client.get(url)).raise_for_status()
            counting[0] = False
    finally:
        server.shutdown()
        server.server_close()
    assert imports == []
