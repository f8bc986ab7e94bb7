"""The /settings menu marks the choices in force, through python-telegram-bot and the
emulator: the menu as sent, and the menu as re-drawn after each press, in both languages."""

from __future__ import annotations

from typing import Any

from feedbot.fakegram import Sent
from feedbot.telegram.chat.settings_menu import MARK
from tests.telegram import test_subscriptions
from tests.telegram.test_bot import USER, Bot

fake, bot, clock = test_subscriptions.fake, test_subscriptions.bot, test_subscriptions.clock
_token_never_logged = test_subscriptions._token_never_logged


def marked(params: dict[str, Any]) -> list[str]:
    """The labels of the marked buttons, without the mark, row by row."""
    rows = params["reply_markup"]["inline_keyboard"]
    return [
        b["text"].removeprefix(MARK)
        for row in rows
        for b in row
        if b["text"] != b["text"].removeprefix(MARK)
    ]


def edits(bot: Bot) -> list[Sent]:
    return [a for a in bot.fake.attempts if a.method == "editmessagetext" and a.outcome == "ok"]


async def press(bot: Bot, data: str, message_id: int) -> dict[str, Any]:
    """Press a button of the menu; the re-drawn menu's parameters."""
    before = len(edits(bot))
    bot.fake.callback(data, chat_id=USER, message_id=message_id)
    await bot.fake.wait_for(lambda: len(edits(bot)) > before)
    return edits(bot)[-1].params


async def test_the_menu_marks_each_setting_in_force_and_moves_the_mark(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/start")
    await chat.send("/settings")
    menu = bot.fake.sent[-1]
    assert menu.message_id is not None
    # a fresh subscription: instant, no digest time, UTC, no quiet hours, all languages, full
    assert marked(menu.params) == [
        "English",
        "Instant",
        "UTC",
        "No quiet hours",
        "All languages",
        "Full",
    ]
    after = await press(bot, "s:0:1:mode:daily", menu.message_id)
    assert marked(after) == [
        "English",
        "Daily digest",
        "08:00",
        "UTC",
        "No quiet hours",
        "All languages",
        "Full",
    ]
    after = await press(bot, "s:0:2:time:2100", menu.message_id)
    assert "21:00" in marked(after) and "08:00" not in marked(after)
    after = await press(bot, "s:0:3:tz:1", menu.message_id)
    after = await press(bot, "s:0:4:quiet:hold", menu.message_id)
    after = await press(bot, "s:0:5:flang:it", menu.message_id)
    after = await press(bot, "s:0:6:style:compact", menu.message_id)
    assert marked(after) == [
        "English",
        "Daily digest",
        "21:00",
        "Europe/Rome",
        "Quiet: hold",
        "it",
        "Compact",
    ]
    # exactly one mark a row, on the button pressed last
    after = await press(bot, "s:0:7:mode:instant", menu.message_id)
    assert "Instant" in marked(after) and "Daily digest" not in marked(after)
    assert "21:00" not in marked(after)  # no digest, no digest time


async def test_the_marks_in_italian(bot: Bot) -> None:
    chat = bot.chat(language="it")
    await chat.send("/start")
    await chat.send("/settings")
    menu = bot.fake.sent[-1]
    assert menu.message_id is not None
    assert marked(menu.params) == [
        "Italiano",
        "Subito",
        "UTC",
        "Nessun silenzio",
        "Tutte le lingue",
        "Completo",
    ]
    after = await press(bot, "s:0:1:style:compact", menu.message_id)
    assert "Compatto" in marked(after) and "Completo" not in marked(after)
    after = await press(bot, "s:0:2:lang:en", menu.message_id)
    assert marked(after)[:2] == ["English", "Instant"]  # the menu now speaks English


async def test_a_timezone_not_on_the_menu_marks_no_timezone(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/start")
    await chat.send("/timezone Asia/Tokyo")
    await chat.send("/filter lang it,en")
    await chat.send("/settings")
    labels = marked(bot.fake.sent[-1].params)
    assert not {"UTC", "Europe/Rome", "Asia/Tokyo"} & set(labels)
    assert {"it", "en"} <= set(labels) and "All languages" not in labels
