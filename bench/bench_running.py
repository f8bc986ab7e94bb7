"""Figures measured inside a running ``feedbot run``, not in-process.

(a) An unchanged re-scan of 10,000 articles as the daemon itself times it (the
``last_scan_seconds`` of its interval scans, read from ``/healthz``), beside a
bare ``os.scandir`` + ``stat`` pass over the same folder in this process (ratio,
goal <= 2x). (b) The event loop's lag p99 (``feedbot_event_loop_lag_seconds``
from ``/metrics``) while the daemon ingests 10,000 new articles and its sender
fans one post out to 1,500 chats on the fake Bot API (goal <= 50 ms).
"""

from __future__ import annotations

import os
import re
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import (
    TOKEN,
    Figure,
    best_of,
    serving_url,
    start_daemon,
    stop_process,
    subscribe_chats,
    wait_for,
)
from feedbot.articles.corpus import generate, write_corpus


def _bare_pass(folder: Path) -> None:
    with os.scandir(folder) as entries:
        for entry in entries:
            entry.stat()


def _start(tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    log = tmp / "daemon.log"
    quiet = {"FEEDBOT_HTTP__PORT": "0", "FEEDBOT_PLAYGROUND__ENABLED": "false"}
    # INFO: the start-up line names the port
    proc = start_daemon(tmp, {**quiet, "FEEDBOT_LOG__LEVEL": "INFO", **env}, log)
    return proc, wait_for(proc, lambda: serving_url(log), "start-up line", log)


def _rescan(tmp: Path, n: int) -> Figure:
    index = tmp / "index"
    write_corpus(index, n, seed=0)
    proc, url = _start(
        tmp,
        {
            "FEEDBOT_INDEX__PATH": str(index),
            "FEEDBOT_STORAGE__PATH": str(tmp / "rescan.sqlite3"),
            "FEEDBOT_INDEX__SCAN_INTERVAL": "1",
        },
    )
    seen: list[float] = []
    try:
        with httpx.Client(timeout=10) as client:
            ingested = lambda: client.get(url + "healthz").json()["articles"] == n  # noqa: E731
            wait_for(proc, ingested, "ingest", tmp / "daemon.log")
            last = None
            while len(seen) < 9:
                body = client.get(url + "healthz").json()
                if body["last_scan"] != last and last is not None:
                    seen.append(float(body["last_scan_seconds"]))
                last = body["last_scan"]
                time.sleep(0.3)
    finally:
        stop_process(proc)
    bare = best_of(lambda: _bare_pass(index), repeat=7)
    median = statistics.median(seen)
    ratio = median / bare
    return Figure(
        name="(a) re-scan inside feedbot run vs bare scandir+stat",
        value=ratio,
        unit="x",
        goal="<= 2",
        ok=ratio <= 2,
        detail=f"{n} unchanged files: median of {len(seen)} interval scans "
        f"{median * 1000:.1f} ms (best {min(seen) * 1000:.1f} ms) as the daemon timed them; "
        f"bare pass {bare * 1000:.1f} ms (best of 7) in this process",
    )


def _p99(metrics: str) -> tuple[float, int]:
    """The upper bound of the bucket holding the 99th percentile of the lag, and the count."""
    buckets = [
        (float(m.group(1)), float(m.group(2)))
        for m in re.finditer(
            r'feedbot_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', metrics
        )
        if m.group(1) != "+Inf"
    ]
    count = float(re.search(r"feedbot_event_loop_lag_seconds_count (\S+)", metrics).group(1))  # type: ignore[union-attr]
    for bound, cumulative in sorted(buckets):
        if cumulative >= 0.99 * count:
            return bound, int(count)
    return float("inf"), int(count)


def _lag(tmp: Path, n: int, chats: int) -> Figure:
    from feedbot.fakegram import FakeBotAPI

    index = tmp / "lag-index"
    index.mkdir()
    database = tmp / "lag.sqlite3"
    fake = FakeBotAPI(TOKEN).start_in_thread()
    articles = generate(n + 2, seed=11, start_seq=500_000)
    name, data = next(articles)
    (index / name).write_bytes(data)  # the baseline
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__PATH": str(database),
        "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
        "FEEDBOT_TELEGRAM__API_BASE_URL": fake.base_url,
        "FEEDBOT_INDEX__SETTLE_MS": "0",
    }
    proc, url = _start(tmp, env)
    try:
        subscribe_chats(database, range(20_000_000, 20_000_000 + chats))
        name, data = next(articles)
        (index / name).write_bytes(data)  # the post the sender fans out
        with httpx.Client(timeout=30) as client:

            def queued() -> bool:
                with sqlite3.connect(database, timeout=30) as db:
                    rows = db.execute("SELECT count(*) FROM deliveries").fetchone()[0]
                db.close()
                return bool(rows >= chats)

            wait_for(proc, queued, "deliveries", tmp / "daemon.log", timeout=60)
            with sqlite3.connect(database, timeout=30) as db:  # the ingest queues nothing
                db.execute("""UPDATE subscriptions SET languages = '["none"]'""")
            db.close()
            before = client.get(url + "metrics").text
            start = time.perf_counter()
            for name, data in articles:
                tmp_file = index / f".{name}.tmp"
                tmp_file.write_bytes(data)
                os.replace(tmp_file, index / name)
            ingested = lambda: client.get(url + "healthz").json()["articles"] == n + 2  # noqa: E731
            wait_for(proc, ingested, "ingest", tmp / "daemon.log", timeout=900)
            ingest = time.perf_counter() - start
            sent = len(fake.sent)
            metrics = client.get(url + "metrics").text
    finally:
        stop_process(proc)
        fake.stop_thread()
    p99_before, _ = _p99(before)
    p99, samples = _p99(metrics)
    return Figure(
        name="(b) event-loop lag p99: 10k ingest + 1,500-chat fan-out",
        value=p99 * 1000,
        unit="ms",
        goal="<= 50",
        ok=p99 <= 0.05,
        detail=f"{n} articles ingested in {ingest:.1f} s while the sender sent {sent} of its "
        f"{chats} posts; p99 is the upper bound of its histogram bucket over {samples} "
        f"samples of 0.1 s timers (before the ingest: {p99_before * 1000:.0f} ms)",
    )


def run(quick: bool) -> list[Figure]:
    n = 1_000 if quick else 10_000
    with tempfile.TemporaryDirectory(prefix="feedbot-bench-running-") as name:
        tmp = Path(name)
        return [_rescan(tmp, n), _lag(tmp, n, 150 if quick else 1_500)]
