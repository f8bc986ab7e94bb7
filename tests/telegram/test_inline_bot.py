"""Inline mode through python-telegram-bot and the emulator: ``@bot words`` in a chat the
bot is not in lists matching articles ten at a time, choosing one lands a compact post
via the bot, and offsets that are not ours are answered with nothing."""

from __future__ import annotations

import logging

import pytest

from feedbot.fakegram import InlineAnswer
from tests.botkit import Index
from tests.storekit import off_loop
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


async def test_an_inline_answer_does_not_wait_behind_a_paused_broadcast(bot: Bot) -> None:
    """A 429 pauses every send for its retry_after; an inline query asked meanwhile is
    answered while the broadcast still waits (answers are a lane of their own)."""
    bot.fake.set_inline()
    index = await off_loop(Index, bot.tmp_path / "index", bot.store)
    index.write(1)
    await off_loop(index.scan)  # the baseline
    chats = [str(c) for c in range(5000, 5020)]
    for chat in chats:
        await off_loop(bot.store.chats.subscribe, chat, kind="private", title=None)
    bot.fake.set_faults(
        rate=1.0, kinds=("429",), retry_after=60, methods=frozenset({"sendmessage"})
    )
    index.write(1)
    await off_loop(index.scan)
    bot.service.wake()
    await bot.fake.wait_for(lambda: bot.fake.count_429 >= 1)
    answered = await answer(bot, "")  # the newest articles
    assert len(answered.results) == 2
    # Still paused: each chat's first try was refused, none was tried again, none got it.
    assert bot.fake.sent == [] and bot.fake.count_429 == len(bot.fake.attempts) <= len(chats)
