"""The event-loop lag probe: a blocked loop shows in its histogram."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from prometheus_client import CollectorRegistry, generate_latest

from feedbot.runtime.looplag import LoopLag
from tests.waiting import until_async


def samples(registry: CollectorRegistry) -> float:
    """How many lags the probe has observed."""
    return registry.get_sample_value("feedbot_event_loop_lag_seconds_count") or 0.0


async def test_a_blocking_call_shows_as_lag() -> None:
    registry = CollectorRegistry()
    probe = LoopLag(registry, interval=0.01)
    task = asyncio.create_task(probe.run())
    await until_async(lambda: samples(registry) >= 3, what="the probe's first samples")
    assert probe.worst < 0.1
    time.sleep(0.3)  # the point: block the loop
    await until_async(lambda: probe.worst >= 0.25, what="the lag measured")
    task.cancel()
    assert probe.worst >= 0.25
    text = generate_latest(registry).decode()
    assert 'feedbot_event_loop_lag_seconds_bucket{le="0.5"}' in text
    assert "feedbot_event_loop_lag_seconds_count" in text


# Runs in its own interpreter: an audit hook cannot be removed once added.
_COUNT_IMPORTS = r"""
import asyncio, http.server, sys, threading
import httpx

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
threading.Thread(target=server.serve_forever, daemon=True).start()
imports = []
counting = False

def hook(event, args):
    if counting and event == "import" and str(args[0]).startswith("sniffio"):
        imports.append(str(args[0]))

sys.addaudithook(hook)

async def main():
    global counting
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    async with httpx.AsyncClient() as client:
        (await client.get(url)).raise_for_status()  # the first request may import lazily
        counting = True
        for _ in range(5):
            (await client.get(url)).raise_for_status()
        counting = False

asyncio.run(main())
server.shutdown()
print(len(imports))
"""


def test_an_http_request_on_the_loop_runs_no_import() -> None:
    """httpcore does ``import sniffio`` on every request. Installed, that is a dict look-up in
    ``sys.modules``; missing, it is a failed import that searches ``sys.path`` (a stat per
    entry) on the event-loop thread each time — which is why sniffio is a dependency."""
    done = subprocess.run(
        [sys.executable, "-c", _COUNT_IMPORTS],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "0", done.stdout + done.stderr


def test_freezing_the_startup_heap_collects_garbage_and_keeps_the_living() -> None:
    import gc
    import weakref

    from feedbot.runtime.looplag import freeze_startup_heap

    class Node:
        pass

    garbage, alive = Node(), Node()
    garbage.me = garbage  # type: ignore[attr-defined]  # a cycle only the collector frees
    gone = weakref.ref(garbage)
    del garbage
    try:
        freeze_startup_heap()
        assert gone() is None  # collected first, not frozen for ever
        assert gc.get_freeze_count() > 0
        assert not any(o is alive for o in gc.get_objects())  # out of later collections
    finally:
        gc.unfreeze()
    assert any(o is alive for o in gc.get_objects())
