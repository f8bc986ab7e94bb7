"""The emulator's public control API: what the package docstring lists exists, and the
parts the playground builds on (the observer hook, message ids, chats, the command menu)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, BotCommand
from telegram.error import BadRequest

import feedbot.fakegram
import feedbot.telegram  # sets PTB_TIMEDELTA, as the app does
from feedbot.fakegram import FakeBotAPI


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as b:
        yield b


def test_every_name_the_docstring_lists_is_public_on_the_emulator() -> None:
    doc = feedbot.fakegram.__doc__ or ""
    section = doc[doc.index("Chats and members") : doc.index("The package, by job")]
    names = set(re.findall(r"``([a-z][a-z0-9_]*)(?![\w.])", section))
    assert {"add_observer", "next_message_id", "chat", "command_menu", "set_member"} <= names
    missing = sorted(n for n in names if not hasattr(FakeBotAPI(), n))
    assert missing == []


def test_the_package_exports_no_private_name() -> None:
    assert [n for n in feedbot.fakegram.__all__ if n.startswith("_")] == []


async def test_an_observer_hears_each_answer_and_each_refusal(bot: Bot, fake: FakeBotAPI) -> None:
    heard: list[tuple[str, Any, int, str]] = []
    fake.add_observer(lambda m, p, r, s, d: heard.append((m, p.get("text"), s, d)))
    msg = await bot.send_message(7, "hello")
    with pytest.raises(BadRequest):
        await bot.send_message(7, "<b>broken", parse_mode="HTML")
    assert heard[0] == ("sendmessage", "hello", 200, "")
    assert heard[1][0] == "sendmessage" and heard[1][2] == 400
    assert heard[1][3].startswith("Bad Request: can't parse entities")
    assert msg.message_id == 1


async def test_a_hand_built_update_takes_the_next_message_id(bot: Bot, fake: FakeBotAPI) -> None:
    sent = await bot.send_message(7, "first")
    assert fake.next_message_id(7) == sent.message_id + 1
    assert fake.next_message_id(-5) == 1  # every chat counts on its own


def test_chat_adds_an_unknown_chat_and_answers_a_known_one() -> None:
    fake = FakeBotAPI()
    assert fake.chat(7) == {"id": 7, "type": "private", "first_name": "User 7"}
    fake.add_chat(-1001, "channel", title="News")
    assert fake.chat(-1001)["title"] == "News"
    assert fake.chat(-1001, "supergroup")["type"] == "supergroup"  # another type: made anew


async def test_command_menu_reads_what_set_my_commands_set(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.set_my_commands([BotCommand("start", "Subscribe")])
    await bot.set_my_commands([BotCommand("start", "Iscriviti")], language_code="it")
    assert fake.command_menu() == [{"command": "start", "description": "Subscribe"}]
    assert fake.command_menu("it")[0]["description"] == "Iscriviti"
    assert fake.command_menu("de") == []
    fake.command_menu().clear()  # a copy: the emulator's menu stays
    assert fake.command_menu() != []
