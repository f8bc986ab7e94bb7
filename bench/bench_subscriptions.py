"""Subscriptions at scale: (1) deciding and writing the deliveries of one new article for
100,000 subscriptions (a quarter with keyword filters, a tenth in digest mode, some
with a language filter) on SQLite and on PostgreSQL — the indexer's real write
(`Articles.apply_changes`), goal <= 2 s each; (2) the fan-out of that kind of article
to 1,500 instant chats (beside filtered and digest subscriptions) against the fake
Bot API's strict 30/s window, goal >= 95 % of the cap and zero 429s; (3) a daily
digest due for 10,000 chats at the same minute: queued by the leader's job, then sent
at the cap without a 429.

PostgreSQL: the server at 127.0.0.1:5432, else a throwaway one (tests/pgserver.py).
The fake Bot API runs in its own process (see bench_telegram).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from bench.bench_telegram import TOKEN, FakeProcess, run_in_loop, steady_rate
from bench.common import Figure
from feedbot.articles.corpus import generate
from feedbot.articles.parse import parse
from feedbot.store import FileRecord, Store
from feedbot.store.schema import chats, deliveries, subscriptions
from tests.pgserver import fresh_database, shared_server

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)
WORDS = ("roma", "milano", "calcio", "governo", "economia", "scuola", "meteo", "cinema")


def _rows(n: int, *, start: int = 10_000_000, digest_every: int = 10) -> list[dict[str, Any]]:
    """``n`` subscriptions: every 4th with keywords, every ``digest_every``-th a digest,
    every 7th taking Italian articles only."""
    rows = []
    for i in range(n):
        terms = [f"+{WORDS[i % len(WORDS)]}", "-oroscopo"] if i % 4 == 1 else []
        digest = digest_every and i % digest_every == 0
        rows.append(
            {
                "chat": str(start + i),
                "thread_id": 0,
                "language": "it",
                "mode": "digest" if digest else "instant",
                "digest": "daily 13:00" if digest else None,
                "timezone": "Europe/Rome",
                "next_digest_at": NOW + timedelta(minutes=1) if digest else None,
                "last_digest_at": NOW - timedelta(days=1) if digest else None,
                "quiet_action": "silent",
                "terms": ('["' + '", "'.join(terms) + '"]') if terms else "[]",
                "has_terms": bool(terms),
                "languages": '["it"]' if i % 7 == 3 else "[]",
                "style": "full",
                "version": 1,
                "created_at": NOW,
            }
        )
    return rows


def _fill(store: Store, rows: list[dict[str, Any]]) -> None:
    """Insert the subscriptions (and their chats) in bulk: setup, not measured."""
    chat_rows = [
        {"id": r["chat"], "type": "private", "subscribed": True, "subscribed_at": NOW} for r in rows
    ]
    with store.db.write() as conn:
        for i in range(0, len(rows), 20_000):
            conn.execute(insert(chats), chat_rows[i : i + 20_000])
            conn.execute(insert(subscriptions), rows[i : i + 20_000])


def _articles(n: int, seed: int) -> list[FileRecord]:
    found = []
    for name, data in generate(n, seed=seed, start_seq=500_000 + seed * 1000):
        article = parse(name, data)
        found.append(FileRecord(article, name, len(data), 1, f"h{seed}{name}"))
    return found


def _decide(store: Store, records: list[FileRecord]) -> tuple[float, int]:
    """Seconds to store one new article and queue its deliveries; rows written."""
    store.articles.apply_changes(records[:1], (), NOW, broadcast=False)  # a baseline
    start = time.perf_counter()
    store.articles.apply_changes(records[1:2], (), NOW, broadcast=True)
    elapsed = time.perf_counter() - start
    query = select(func.count()).where(deliveries.c.article_id == records[1].article.id)
    with store.db.read() as conn:
        return elapsed, int(conn.scalar(query.select_from(deliveries)) or 0)


def _decision_figures(quick: bool) -> list[Figure]:
    n = 10_000 if quick else 100_000
    rows = _rows(n)
    records = _articles(2, seed=3)
    figures = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        shared_server() as server,
        fresh_database(server, "feedbot_bench_subs") as url,
    ):
        for engine, store in (
            ("SQLite", Store.open(Path(tmp) / "subs.sqlite3")),
            ("PostgreSQL", Store.open(Path(tmp) / "unused", url=url)),
        ):
            try:
                _fill(store, rows)
                seconds, written = _decide(store, records)
            finally:
                store.close()
            figures.append(
                Figure(
                    name=f"(1) deliveries for one article, {n:,} subs, {engine}",
                    value=seconds,
                    unit="s",
                    goal="<= 2 s",
                    ok=seconds <= 2.0,
                    detail=f"{written:,} deliveries written (25% of subscriptions with "
                    "keywords, 10% digest, 1 in 7 Italian-only); the indexer's whole write "
                    "transaction (article upsert + one INSERT…SELECT taking the matching filters)",
                )
            )
    return figures


async def _fanout(base_url: str, tmp: Path, n: int) -> None:
    from feedbot.config import Settings
    from feedbot.telegram.assemble import build_service

    def prepare() -> Store:
        store = Store.open(tmp / "fanout.sqlite3")
        rows = _rows(n, digest_every=0)  # instant, a quarter with keywords
        _fill(store, rows)
        records = _articles(2, seed=5)
        store.articles.apply_changes(records[:1], (), datetime.now(UTC), broadcast=False)
        store.articles.apply_changes(records[1:2], (), datetime.now(UTC), broadcast=True)
        return store

    store = await asyncio.to_thread(prepare)
    owed = (await asyncio.to_thread(store.chats.stats))["deliveries_pending"]
    try:
        settings = Settings(
            storage={"path": tmp / "fanout.sqlite3"},
            index={"path": tmp},
            telegram={"token": TOKEN, "api_base_url": base_url},
        )
        done = asyncio.Event()
        outcomes: Counter[str] = Counter()

        def count(outcome: str) -> None:
            outcomes[outcome] += 1
            if sum(outcomes.values()) >= owed:
                done.set()

        service = build_service(settings, store, on_outcome=count)
        await service.start()
        await service.lead()
        try:
            service.wake()
            await done.wait()
        finally:
            await service.stop()
    finally:
        await asyncio.to_thread(store.close)


def _fanout_figures(quick: bool) -> list[Figure]:
    n = 400 if quick else 2_000
    fake = FakeProcess(global_per_second=30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_in_loop(_fanout(fake.base_url, Path(tmp), n))
        stats = fake.stats()
    finally:
        fake.stop()
    rate = steady_rate(stats["times"])
    share = rate / 30
    sent = len(stats["times"])
    return [
        Figure(
            name="(2) instant fan-out with filtered subs vs the 30/s cap",
            value=100 * share,
            unit="% of cap",
            goal=">= 95%, zero 429s",
            ok=share >= 0.95 and stats["count_429"] == 0,
            detail=f"{sent} messages to the instant chats of {n} subscriptions (a quarter "
            f"with keywords; the article matched some) at {rate:.2f} msg/s after the first "
            f"second, {stats['count_429']} 429s",
        )
    ]


async def _digest(base_url: str, tmp: Path, n: int) -> tuple[float, float, int]:
    from feedbot.config import Settings
    from feedbot.telegram.assemble import build_service

    due = datetime.now(UTC).replace(microsecond=0)

    def prepare() -> Store:
        store = Store.open(tmp / "digest.sqlite3")
        rows = _rows(n, digest_every=1)
        for r in rows:  # every one due now, every one with something to list
            r |= {"next_digest_at": due, "last_digest_at": due - timedelta(days=1)}
            r |= {"terms": "[]", "has_terms": False, "languages": "[]"}
        _fill(store, rows)
        records = _articles(5, seed=9)
        store.articles.apply_changes(records, (), due - timedelta(hours=1), broadcast=True)
        return store

    store = await asyncio.to_thread(prepare)
    try:
        settings = Settings(
            storage={"path": tmp / "digest.sqlite3"},
            index={"path": tmp},
            telegram={"token": TOKEN, "api_base_url": base_url},
        )
        done = asyncio.Event()
        outcomes: Counter[str] = Counter()
        queued = 0

        def count(outcome: str) -> None:
            outcomes[outcome] += 1
            if queued and sum(outcomes.values()) >= queued:
                done.set()

        service = build_service(settings, store, on_outcome=count)
        await service.start()
        start = time.perf_counter()
        queued = await service.digests.tick()
        queue_seconds = time.perf_counter() - start
        await service.lead()  # its own first tick finds nothing more due
        try:
            service.wake()
            await done.wait()
            send_seconds = time.perf_counter() - start
        finally:
            await service.stop()
    finally:
        await asyncio.to_thread(store.close)
    return queue_seconds, send_seconds, queued


def _digest_figures(quick: bool) -> list[Figure]:
    n = 600 if quick else 10_000
    fake = FakeProcess(global_per_second=30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            queue_seconds, _, queued = run_in_loop(_digest(fake.base_url, Path(tmp), n))
        stats = fake.stats()
    finally:
        fake.stop()
    rate = steady_rate(stats["times"])
    share = rate / 30
    return [
        Figure(
            name=f"(3) daily digest to {n:,} chats at once vs the 30/s cap",
            value=100 * share,
            unit="% of cap",
            goal=">= 95%, zero 429s",
            ok=share >= 0.95 and stats["count_429"] == 0 and queued == n,
            detail=f"{queued:,} digests queued in {queue_seconds:.2f} s by the leader's job, "
            f"{len(stats['times']):,} messages at {rate:.2f} msg/s after the first second, "
            f"{stats['count_429']} 429s",
        )
    ]


def run(quick: bool) -> list[Figure]:
    return [*_decision_figures(quick), *_fanout_figures(quick), *_digest_figures(quick)]
