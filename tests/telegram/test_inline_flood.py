"""Inline mode under a flood, through python-telegram-bot and the emulator: 100 queries
in about a second from one user are each answered or refused, the database is asked a
bounded number of times and never written; the same words from many users cost one
search; offsets that are not ours cost none. Counted by the bot's own metric
(``feedbot_inline_queries_total``), as /metrics shows it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from feedbot.store.schema import metadata
from feedbot.telegram.assemble import telegram_component
from feedbot.telegram.chat.inline_guard import BURST, RATE, REUSE_SECONDS
from feedbot.telegram.service import TelegramService
from tests.botkit import make_settings
from tests.storekit import off_loop
from tests.telegram import test_bot
from tests.telegram.test_bot import USER, Bot
from tests.telegram.test_search_bot import publish

fake, _token_never_logged = test_bot.fake, test_bot._token_never_logged
STRANGERS = -1009999
OUTCOMES = ("searched", "cached", "empty", "refused")


@dataclass
class Metered:
    bot: Bot
    registry: CollectorRegistry

    def count(self, outcome: str) -> int:
        value = self.registry.get_sample_value("feedbot_inline_queries_total", {"outcome": outcome})
        return int(value or 0)

    def total(self) -> int:
        return sum(self.count(o) for o in OUTCOMES)


@pytest.fixture
async def metered(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path
) -> AsyncIterator[Metered]:
    """The bot as the daemon builds it, its metrics in a registry of its own."""
    registry = CollectorRegistry()
    settings = make_settings(tmp_path, fake.base_url, storage_url=database_url)
    service = telegram_component(settings, store, registry)
    assert isinstance(service, TelegramService)
    await service.start()
    await service.lead()
    fake.set_inline()
    try:
        yield Metered(Bot(fake, store, service, tmp_path), registry)
    finally:
        await service.stop()


def snapshot(store: Store) -> dict[str, list[str]]:
    """Every row of every table, as text: equal snapshots, an unchanged database."""
    with store.db.read() as conn:
        return {
            t.name: sorted(repr(tuple(r)) for r in conn.execute(t.select()))
            for t in metadata.sorted_tables
        }


async def test_a_flood_from_one_user_is_answered_or_refused_cheaply(metered: Metered) -> None:
    bot = metered.bot
    await publish(bot, 12)
    assert metered.count("refused") == 0  # registered before any query
    db_file = bot.tmp_path / "feedbot.sqlite3"
    watcher = (
        sqlite3.connect(db_file) if db_file.exists() and bot.store.dialect == "sqlite" else None
    )
    version = int(watcher.execute("PRAGMA data_version").fetchone()[0]) if watcher else None
    before = await off_loop(snapshot, bot.store)
    texts = ["riforme", "governo", "", "aula riforme", "seduta -numero"]
    started = time.monotonic()
    ids = []
    for n in range(100):
        ids.append(bot.fake.inline_query(texts[n % len(texts)], user_id=USER, chat_id=STRANGERS))
        await asyncio.sleep(0.01)  # about a second of typing, as fast as a script can

    def answered() -> int:
        return sum(bot.fake.inline_answer(i) is not None for i in ids)

    await bot.fake.wait_for(
        lambda: metered.total() == 100 and answered() == 100 - metered.count("refused")
    )
    elapsed = time.monotonic() - started
    allowed = BURST + RATE * elapsed + 1
    assert 100 - metered.count("refused") == answered() <= allowed
    assert metered.count("refused") >= 100 - allowed > 0
    # each distinct query is searched at most once while its answer is cached
    most = len(texts) * (1 + int(elapsed // REUSE_SECONDS))
    assert 1 <= metered.count("searched") <= min(most, answered())
    assert await off_loop(snapshot, bot.store) == before
    if watcher is not None:
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == version
        watcher.close()


async def test_the_same_words_from_many_users_cost_one_search(metered: Metered) -> None:
    bot = metered.bot
    await publish(bot, 3)
    ids = [
        bot.fake.inline_query("  RIFORME ", user_id=5000 + n, chat_id=STRANGERS) for n in range(20)
    ]
    await bot.fake.wait_for(lambda: all(bot.fake.inline_answer(i) is not None for i in ids))
    answers: list[Any] = [bot.fake.inline_answer(i) for i in ids]
    assert {tuple(r["id"] for r in a.results) for a in answers} != {()}
    assert len({tuple(r["id"] for r in a.results) for a in answers}) == 1
    assert (metered.count("searched"), metered.count("cached")) == (1, 19)


async def test_offsets_that_are_not_ours_cost_no_search(metered: Metered) -> None:
    bot = metered.bot
    await publish(bot, 23)
    first = bot.fake.inline_query("riforme", user_id=USER, chat_id=STRANGERS)
    await bot.fake.wait_for(lambda: bot.fake.inline_answer(first) is not None)
    page = bot.fake.inline_answer(first)
    assert page is not None and page.next_offset.startswith("10.")
    assert metered.count("searched") == 1
    offsets = [
        ("governo", page.next_offset),  # another query's
        ("riforme", "10"),  # a bare position
        ("riforme", "-10"),
        ("riforme", "9" * 60),
        ("riforme", page.next_offset.replace("10.", "50.")),  # past the end
        ("riforme", page.next_offset.replace("10.", "7.")),
        ("riforme", "\u202e10.x"),
    ]
    ids = [
        bot.fake.inline_query(text, user_id=6000 + n, chat_id=STRANGERS, offset=offset)
        for n, (text, offset) in enumerate(offsets)
    ]
    await bot.fake.wait_for(lambda: all(bot.fake.inline_answer(i) is not None for i in ids))
    for i in ids:
        found = bot.fake.inline_answer(i)
        assert found is not None and (found.results, found.next_offset) == ([], "")
    assert (metered.count("searched"), metered.count("empty")) == (1, len(offsets))
    second = bot.fake.inline_query(
        "riforme", user_id=USER, chat_id=STRANGERS, offset=page.next_offset
    )
    await bot.fake.wait_for(lambda: bot.fake.inline_answer(second) is not None)
    answer = bot.fake.inline_answer(second)
    assert answer is not None and len(answer.results) == 10
    assert metered.count("searched") == 2
