"""Inline mode through python-telegram-bot and the emulator: ``@bot words`` in a chat the
bot is not in lists matching articles ten at a time, choosing one lands a compact post
via the bot, and offsets that are not ours are answered with nothing."""

from __future__ import annotations

import logging

import pytest

from feedbot.fakegram import InlineAnswer
from tests.telegram import test_bot
from tests.telegram.test_bot import USER, Bot
from tests.telegram.test_search_bot import publish

fake, bot, _token_never_logged = test_bot.fake, test_bot.bot, test_bot._token_never_logged
STRANGERS = -1009999  # a group the bot is not a member of


async def answer(bot: Bot, text: str, offset: str = "") -> InlineAnswer:
    query_id = bot.fake.inline_query(text, user_id=USER, chat_id=STRANGERS, offset=offset)
    await bot.fake.wait_for(lambda: bot.fake.inline_answer(query_id) is not None)
    found = bot.fake.inline_answer(query_id)
    assert found is not None
    return found


async def test_inline_results_pages_and_a_chosen_post(bot: Bot) -> None:
    bot.fake.set_inline()
    ids = await publish(bot, 23)
    first = await answer(bot, "riforme")
    assert len(first.results) == 10 and first.next_offset.startswith("10.")
    top = first.results[0]
    assert top["id"] == ids[-1] and top["title"] == "Notizia 23 sulla riforma"
    assert "2026" in top["description"]
    second = await answer(bot, "riforme", first.next_offset)
    assert len(second.results) == 10 and second.next_offset.startswith("20.")
    third = await answer(bot, "riforme", second.next_offset)
    assert len(third.results) == 3 and third.next_offset == ""
    newest = await answer(bot, "")
    assert [r["id"] for r in newest.results] == ids[::-1][:10]
    query_id = bot.fake.inline_query("riforme", user_id=USER, chat_id=STRANGERS)
    await bot.fake.wait_for(lambda: bot.fake.inline_answer(query_id) is not None)
    bot.fake.choose_inline_result(query_id, ids[-1])
    [post] = bot.fake.via_bot(STRANGERS)
    assert post["text"].startswith("Notizia 23 sulla riforma")


@pytest.mark.parametrize("offset", ["abc", "7", "10", "50", "-10", "1e5", "9999", "10.zz"])
async def test_offsets_that_are_not_ours_get_nothing(bot: Bot, offset: str) -> None:
    bot.fake.set_inline()
    await publish(bot, 3)
    found = await answer(bot, "riforme", offset)
    assert found.results == [] and found.next_offset == ""


async def test_hostile_queries_are_answered(bot: Bot) -> None:
    bot.fake.set_inline()
    await publish(bot, 3)
    for text in ('NEAR(a "b', "*" * 256, "<b>x</b> & -", "\u202e\u200b"):
        assert (await answer(bot, text)).next_offset == ""


async def test_a_bot_without_inline_mode_says_how_to_turn_it_on(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    told = [r for r in caplog.get_records("setup") if "/setinline" in r.getMessage()]
    assert len(told) == 1 and told[0].levelno == logging.INFO  # the bot was built, then led
