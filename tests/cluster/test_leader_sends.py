"""What a leader may send, through the real PTB stack (the rate limiter included) against
the fake Bot API: nothing once its lease lapsed (`LeaderRequest`, the last check before a
message is written), and nothing that would add to its predecessor's last second."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from feedbot.cluster.leader import Leadership
from feedbot.errors import FencedError
from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from feedbot.telegram.assemble import build_service, handler_settings
from feedbot.telegram.chat.handlers import BotDeps, build_application
from feedbot.telegram.send.request import LeaderRequest
from tests.botkit import TOKEN, make_settings
from tests.replicakit import max_per_second


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(TOKEN) as server:
        yield server


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(tmp_path / "feedbot.sqlite3")  # off the loop: a sync fixture
    yield store
    store.close()


@pytest.fixture
async def bot(fake: FakeBotAPI, sqlite_store: Store, tmp_path: Path) -> AsyncIterator[Any]:
    settings = make_settings(tmp_path, fake.base_url)
    application = build_application(
        settings.telegram, BotDeps(sqlite_store.async_chats(), handler_settings(settings))
    )
    await application.initialize()
    try:
        yield application.bot
    finally:
        await application.shutdown()


def messages(fake: FakeBotAPI) -> list[int | str]:
    return [s.chat_id for s in fake.attempts if s.method == "sendmessage"]


async def test_no_message_is_written_once_permit_says_no(bot: Any, fake: FakeBotAPI) -> None:
    request = bot.request
    assert isinstance(request, LeaderRequest)
    leading = True
    request.permit = lambda: leading
    await bot.send_message(chat_id=11, text="while leading")
    leading = False
    with pytest.raises(FencedError):
        await bot.send_message(chat_id=12, text="after the lease lapsed")
    assert (await bot.get_me()).username  # requests that send nothing still go out
    assert messages(fake) == [11]


async def test_a_lease_that_lapses_while_a_message_waits_stops_it(
    bot: Any, fake: FakeBotAPI
) -> None:
    """The second message to a chat waits ~1 s for the chat's window; the lease, known to
    end by the local monotonic clock, ends meanwhile: only the first is written."""
    deadline = time.monotonic() + 0.5
    bot.request.permit = lambda: time.monotonic() < deadline
    first, second = await asyncio.gather(
        bot.send_message(chat_id=21, text="one"),
        bot.send_message(chat_id=21, text="two"),
        return_exceptions=True,
    )
    assert not isinstance(first, BaseException)
    assert isinstance(second, FencedError)
    assert messages(fake) == [21]


async def test_a_new_leader_waits_out_the_previous_ones_last_second(
    fake: FakeBotAPI, sqlite_store: Store, tmp_path: Path
) -> None:
    """Telegram's 30 messages/s are the bot's, not a process's: a leader that hands over
    right after a burst, and one that takes over at once, must not make 60 in a second."""
    settings = make_settings(tmp_path, fake.base_url)
    chats = iter(range(100, 200))
    for _ in range(2):
        service = build_service(settings, sqlite_store)
        leadership = Leadership(sqlite_store, settings.cluster, CollectorRegistry(), solo=True)
        await service.lead(leadership)
        try:
            bot = service.application.bot
            burst = [bot.send_message(chat_id=next(chats), text="post") for _ in range(30)]
            await asyncio.gather(*burst)
        finally:
            await service.stop()
    sends = [s for s in fake.attempts if s.method == "sendmessage"]
    assert len(sends) == 60 and fake.count_429 == 0
    assert max_per_second([s.time for s in sends]) <= 30
