"""`Poller` through the real python-telegram-bot stack against the Bot API emulator: it polls
only while permitted, handles and confirms only what it took while permitted, and stops at a
409 (a replica) or waits and polls again (a single daemon). The emulator's call log shows
every ``getUpdates`` each client made."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes

import feedbot.telegram  # noqa: F401 - sets PTB_TIMEDELTA, as the app does
from feedbot.fakegram import FakeBotAPI
from feedbot.telegram import polling
from feedbot.telegram.polling import Poller


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@asynccontextmanager
async def app_of(fake: FakeBotAPI, name: str, seen: list[str]) -> AsyncIterator[Any]:
    """An application (no `Updater`) that records each command it handles in ``seen``."""

    async def command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        seen.append(update.effective_message.text)

    app: Application = (  # type: ignore[type-arg]
        ApplicationBuilder().token(fake.token).base_url(fake.base_url_for(name)).updater(None)
    ).build()
    app.add_handler(CommandHandler(["a", "b", "c"], command))
    async with app:
        yield app


def polls(fake: FakeBotAPI, name: str) -> list[int | None]:
    """The offsets of ``name``'s getUpdates calls, in order."""
    return [c.offset for c in fake.calls("getUpdates", replica=name)]


async def test_what_was_taken_after_the_lease_ran_out_is_left_to_the_next_leader(
    fake: FakeBotAPI,
) -> None:
    permitted, seen, later = [True], [], []  # type: ignore[var-annotated]
    async with app_of(fake, "old", seen) as app:
        old = Poller(app, permit=lambda: permitted[0], on_conflict=lambda _: None, timeout=5)
        old.start()
        first = fake.command("/a", chat_id=1)
        await fake.wait_for(lambda: seen == ["/a"])
        await fake.wait_for(lambda: polls(fake, "old")[-1:] == [first + 1])  # waits again
        permitted[0] = False  # the lease runs out while that long poll waits
        fake.command("/b", chat_id=1)
        await fake.wait_for(lambda: not old.running)
        await old.stop()  # not permitted: no confirming call either
        assert seen == ["/a"]
        assert polls(fake, "old") == [0, first + 1]
    async with app_of(fake, "new", later) as app:
        new = Poller(app, on_conflict=lambda _: None, timeout=5)
        new.start()
        await fake.wait_for(lambda: later == ["/b"])
        await new.stop()
    assert polls(fake, "new")[0] == 0 and polls(fake, "new")[-1] == first + 2


async def test_a_409_ends_a_replicas_polling_at_once(fake: FakeBotAPI) -> None:
    reasons: list[str] = []
    async with app_of(fake, "old", []) as app:
        poller = Poller(app, on_conflict=reasons.append, timeout=5)
        poller.start()
        await fake.wait_for(lambda: len(polls(fake, "old")) == 1)
        async with httpx.AsyncClient() as client:  # the new leader polls
            url = fake.base_url_for("new") + fake.token + "/getUpdates"
            assert (await client.post(url, json={"timeout": 0})).json()["ok"] is True
        await fake.wait_for(lambda: not poller.running)
        assert len(reasons) == 1 and "409" in reasons[0]
        assert len(polls(fake, "old")) == 1  # its task has ended: no retry can come
        await poller.stop()
    assert len(polls(fake, "old")) == 1


async def test_a_single_daemon_says_so_once_and_polls_again_after_a_409(
    fake: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(polling, "CONFLICT_WAIT", 0.1)
    caplog.set_level(logging.INFO, logger="feedbot.telegram.polling")
    seen: list[str] = []
    async with app_of(fake, "solo", seen) as app:
        poller = Poller(app, timeout=5)  # no on_conflict: nobody to defer to
        poller.start()
        async with httpx.AsyncClient() as client:  # another instance with the same token
            url = fake.base_url_for("other") + fake.token + "/getUpdates"
            for n in (1, 2):
                await fake.wait_for(lambda n=n: len(polls(fake, "solo")) == n)  # type: ignore[misc]
                await client.post(url, json={"timeout": 0})
        await fake.wait_for(lambda: len(polls(fake, "solo")) == 3)
        fake.command("/c", chat_id=3)
        await fake.wait_for(lambda: seen == ["/c"])
        assert poller.running
        await poller.stop()
    conflicts = [r for r in caplog.records if "409" in r.getMessage()]
    assert len(conflicts) == 1 and "another instance" in conflicts[0].getMessage()
    assert "polling Telegram for updates again" in caplog.text


async def test_a_clean_stop_confirms_what_was_handled(fake: FakeBotAPI) -> None:
    seen: list[str] = []
    async with app_of(fake, "one", seen) as app:
        poller = Poller(app, timeout=5)
        poller.start()
        await fake.wait_for(lambda: len(polls(fake, "one")) == 1)
        update_id = fake.command("/a", chat_id=1)
        await fake.wait_for(lambda: seen == ["/a"])
        await poller.stop()
    assert polls(fake, "one")[-1] == update_id + 1
    async with app_of(fake, "two", seen) as app:
        poller = Poller(app, timeout=1)
        poller.start()
        await fake.wait_for(lambda: len(polls(fake, "two")) >= 2)  # one long poll ended empty
        await poller.stop()
    assert seen == ["/a"]
