"""Inline mode under load: the time from a user's inline query to the bot's
answerInlineQuery reaching the emulator, while a broadcast to 1,500 chats runs (300
with --quick), beside the same with no broadcast (the baseline). Goal: p95 <= 100 ms.

A real ``feedbot run`` (SQLite, 10,000 generated articles in its index; 1,000 with
--quick; playground off) talks to the fake Bot API (`feedbot.fakegram`, in a thread of
this process, with Telegram's default flood control: 30 messages/s overall) over real
HTTP, long polling. Inline mode is on (@BotFather's ``/setinline``). First the baseline:
queries at `RATE` a second for `BASELINE_SECONDS`; then the chats are subscribed, one new
article is dropped into the index (an atomic rename) and, from the broadcast's first
``sendMessage`` to its last, queries go on at the same pace. Each query is 1–3 words of
the corpus (one in eight empty: the newest articles), from one of 50 users, in one of
their private chats or a group; its latency is the emulator's clock from just before
`FakeBotAPI.inline_query` to the arrival of the accepted answer (`InlineAnswer.time`).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.bench_search_http import queries
from bench.common import (
    TOKEN,
    Figure,
    serving_url,
    start_daemon,
    stop_process,
    subscribe_chats,
    wait_for,
)
from feedbot.articles.corpus import generate, write_corpus

RATE = 5.0  # inline queries a second
BASELINE_SECONDS = 20.0
USERS = 50
FIRST_CHAT = 20_000_000


@dataclass
class Asked:
    query_id: str
    text: str
    at: float  # the emulator's clock just before the query


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Typist:
    """Users typing inline queries at a steady pace."""

    def __init__(self, fake: Any, words: list[str]) -> None:
        self.fake = fake
        self.words = words
        self.count = 0

    def one(self) -> Asked:
        n = self.count
        self.count += 1
        text = "" if n % 8 == 7 else self.words[n % len(self.words)]
        user = 1_000 + n % USERS
        chat = user if n % 2 else -100_500_000 - n % 7  # their own chat, or a group
        at = self.fake.clock()
        query_id = self.fake.inline_query(text, user_id=user, chat_id=chat)
        return Asked(query_id, text, at)

    def until(self, done: Any, *, start: float | None = None) -> list[Asked]:
        """Queries at `RATE` a second from ``start`` (now) until ``done()`` is true."""
        asked: list[Asked] = []
        tick = time.monotonic() if start is None else start
        while not done():
            asked.append(self.one())
            tick += 1 / RATE
            time.sleep(max(0.0, tick - time.monotonic()))
        return asked


def latencies(fake: Any, asked: list[Asked], timeout: float = 15.0) -> tuple[list[float], int]:
    """Milliseconds from each query to its answer, and how many got none within
    ``timeout`` (the emulator itself refuses answers after 10 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(fake.inline_answer(a.query_id) is not None for a in asked):
            break
        time.sleep(0.1)
    out = []
    for a in asked:
        answer = fake.inline_answer(a.query_id)
        if answer is not None:
            out.append((answer.time - a.at) * 1000)
    return out, len(asked) - len(out)


def _summary(ms: list[float], missing: int) -> str:
    return (
        f"p50 {statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, max "
        f"{max(ms):.1f} ms over {len(ms)} queries" + (f", {missing} unanswered" if missing else "")
    )


def _start(tmp: Path, n: int, base_url: str) -> tuple[subprocess.Popen[bytes], str, Path, Path]:
    index = tmp / "index"
    write_corpus(index, n, seed=0)
    database = tmp / "inline.sqlite3"
    log = tmp / "daemon.log"
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_INDEX__SETTLE_MS": "0",
        "FEEDBOT_STORAGE__PATH": str(database),
        "FEEDBOT_HTTP__PORT": "0",
        "FEEDBOT_PLAYGROUND__ENABLED": "false",
        "FEEDBOT_LOG__LEVEL": "INFO",  # the start-up line names the port
        "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
        "FEEDBOT_TELEGRAM__API_BASE_URL": base_url,
    }
    proc = start_daemon(tmp, env, log)
    url = wait_for(proc, lambda: serving_url(log), "start-up line", log)
    with httpx.Client(timeout=10) as client:
        ingested = lambda: client.get(url + "healthz").json()["articles"] == n  # noqa: E731
        wait_for(proc, ingested, "ingest", log, timeout=900, interval=0.5)
    return proc, url, index, database


def run(quick: bool) -> list[Figure]:
    from feedbot.fakegram import FakeBotAPI

    n = 1_000 if quick else 10_000
    chats = 300 if quick else 1_500
    baseline_seconds = 6.0 if quick else BASELINE_SECONDS
    fake = FakeBotAPI(TOKEN).start_in_thread()
    fake.set_inline()
    typist = Typist(fake, queries(200, seed=3))
    with tempfile.TemporaryDirectory(prefix="feedbot-bench-inline-") as name:
        tmp = Path(name)
        proc, _, index, database = _start(tmp, n, fake.base_url)
        log = tmp / "daemon.log"
        try:
            first = typist.one()  # the poller is up and answering
            wait_for(proc, lambda: fake.inline_answer(first.query_id), "inline answer", log)
            end = time.monotonic() + baseline_seconds
            baseline = typist.until(lambda: time.monotonic() >= end)
            base_ms, base_missing = latencies(fake, baseline)

            subscribe_chats(database, range(FIRST_CHAT, FIRST_CHAT + chats))
            ours = range(FIRST_CHAT, FIRST_CHAT + chats)

            def sends() -> list[float]:
                return [
                    s.time
                    for s in fake.sent
                    if isinstance(s.chat_id, int | str) and int(s.chat_id) in ours
                ]

            name, data = next(generate(1, seed=5, start_seq=900_000))
            (index / f".{name}.tmp").write_bytes(data)
            os.replace(index / f".{name}.tmp", index / name)
            wait_for(proc, sends, "first post of the broadcast", log, timeout=60, interval=0.01)
            during = typist.until(lambda: len(sends()) >= chats)
            times = sorted(sends())
            load_ms, load_missing = latencies(fake, during)
            count_429 = fake.count_429
            results = sum(
                len(a.results) for a in (fake.inline_answer(q.query_id) for q in during) if a
            )
        finally:
            stop_process(proc)
            fake.stop_thread()
    length = times[-1] - times[0]
    rate = (len(times) - 1) / length
    p95, base_p95 = percentile(load_ms, 0.95), percentile(base_ms, 0.95)
    conditions = (
        f"feedbot run on SQLite, {n:,} articles, long polling; fake Bot API in a thread of "
        f"the bench process, 30 msg/s window; {RATE:g} queries/s of 1-3 corpus words "
        f"(1 in 8 empty) from {USERS} users"
    )
    return [
        Figure(
            f"inline query -> answer p95 during a {chats:,}-chat broadcast",
            p95,
            "ms",
            goal="<= 100",
            ok=p95 <= 100 and not load_missing,
            detail=f"{_summary(load_ms, load_missing)} ({results / max(1, len(during)):.1f} "
            f"results each on average); the broadcast: {len(times):,} posts in {length:.1f} s, "
            f"{rate:.1f} msg/s first to last, {count_429} 429s; {conditions}",
        ),
        Figure(
            "inline query -> answer p95, no broadcast (baseline)",
            base_p95,
            "ms",
            detail=f"{_summary(base_ms, base_missing)} over {baseline_seconds:g} s; "
            f"during the broadcast / baseline: p95 {p95 / base_p95:.2f}x, p50 "
            f"{statistics.median(load_ms) / statistics.median(base_ms):.2f}x",
        ),
    ]
