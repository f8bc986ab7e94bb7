"""Corrections: one article edited in 1,500 chats, against Telegram's 30/s cap.

The real `TelegramService` (sender and editor, our rate limiter, a SQLite ledger)
first posts one article to 1,500 subscribed private chats, then the article file is
saved with a new headline, scanned, and the editor edits every message. The fake Bot
API runs in its own process with a strict sliding 1-second window of 30 that edits
count against; the rate is taken from its arrival times of the accepted
``editMessageText`` requests, after the first second. Goal: >= 95 % of the cap, zero
429s, each message edited once.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.bench_telegram import TOKEN, FakeProcess, arrival_rate, run_in_loop, steady_rate
from bench.common import Figure

__all__ = ["run"]

ARTICLE = (
    "date 2026-11-20 {headline}\n\n"
    "The lead paragraph of the article says what happened. It has a second sentence.\n\n"
    "A heading\n\nThe section says a little more about it, in one sentence.\n"
)


async def _edit_everywhere(base_url: str, tmp: Path, n: int) -> float:
    """Post one article to ``n`` chats, correct it, wait for every edit; seconds taken."""
    from feedbot.config import Settings
    from feedbot.ingest.scan import Indexer
    from feedbot.store import Store
    from feedbot.telegram.assemble import build_service

    folder = tmp / "index"
    folder.mkdir()
    name = "500_0000000000000001.txt"

    def save(headline: str) -> None:
        (folder / ".tmp").write_text(ARTICLE.format(headline=headline))
        os.replace(folder / ".tmp", folder / name)

    def prepare() -> tuple[Store, Indexer]:  # off the loop, like every database call
        store = Store.open(tmp / "edits.sqlite3")
        for chat in range(10_000_000, 10_000_000 + n):
            store.chats.subscribe(str(chat), kind="private", title=None)
        indexer = Indexer(folder, store.articles, max_bytes=1 << 20, settle_ms=0)
        (folder / "001_0000000000000001.txt").write_text(ARTICLE.format(headline="Baseline"))
        indexer.scan()
        save("The first version")
        assert len(indexer.scan().created) == 1
        return store, indexer

    store, indexer = await asyncio.to_thread(prepare)
    outcomes: Counter[str] = Counter()
    sent, edited = asyncio.Event(), asyncio.Event()

    def count(outcome: str) -> None:
        outcomes[outcome] += 1
        if outcomes["sent"] >= n:
            sent.set()
        if outcomes["edited"] + outcomes["unchanged"] >= n:
            edited.set()

    settings = Settings(
        storage={"path": tmp / "edits.sqlite3"},
        index={"path": folder},
        telegram={"token": TOKEN, "api_base_url": base_url},
    )
    service = build_service(settings, store, on_outcome=count)
    await service.start()
    await service.lead()
    try:
        service.wake()
        await sent.wait()
        await asyncio.sleep(1.5)  # let the sends' window empty before the edits start
        save("The corrected version")
        report = await asyncio.to_thread(indexer.scan)
        start = time.perf_counter()
        service.wake(report.changed)
        await edited.wait()
        elapsed = time.perf_counter() - start
    finally:
        await service.stop()
        await asyncio.to_thread(store.close)
    assert outcomes["edited"] == n, outcomes
    return elapsed


def run(quick: bool) -> list[Figure]:
    n = 300 if quick else 1500
    load = os.getloadavg()[0]
    fake = FakeProcess(global_per_second=30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            elapsed = run_in_loop(_edit_everywhere(fake.base_url, Path(tmp), n))
        stats = fake.stats()
    finally:
        fake.stop()
    edits = stats["edits"]
    rate = steady_rate(edits)
    share = rate / 30
    ok = share >= 0.95 and stats["count_429"] == 0 and len(edits) == n
    return [
        Figure(
            name="(1) edits of one article in private chats vs the 30/s cap",
            value=100 * share,
            unit="% of cap",
            goal=">= 95%, zero 429s",
            ok=ok,
            detail=f"{len(edits)} edits in {n} chats at {rate:.2f}/s after the first second "
            f"({arrival_rate(edits):.2f} first to last; {elapsed:.1f} s from the save, with the "
            f"2 s quiet time), {stats['count_429']} 429s; fake Bot API in its own process, "
            f"strict sliding 1-s window of 30; load average {load:.2f} at the start",
        )
    ]
