"""/search in a chat, through python-telegram-bot against the emulator: five results a
message with snippets, a button for the next five, the chat's language, and forged or
stale button data refused or clamped, never trusted."""

from __future__ import annotations

from datetime import UTC, datetime

from feedbot.articles.parse import parse
from tests.storekit import add, off_loop
from tests.telegram import test_bot
from tests.telegram.test_bot import USER, Bot

# The bot's own fixtures: the fake Bot API, a started bot, the token-never-logged check.
fake, bot, _token_never_logged = test_bot.fake, test_bot.bot, test_bot._token_never_logged

NOW = datetime(2026, 3, 10, tzinfo=UTC)


async def publish(bot: Bot, n: int) -> list[str]:
    ids = []
    for i in range(1, n + 1):
        text = (
            f"date 2026-03-{i:02d} Notizia {i} sulla riforma\n\n"
            f"Il governo discute le riforme in aula, seduta numero {i}, e non si sa quando.\n"
        )
        article = parse(f"{i:03d}_{i:016x}.txt", text.encode())
        await off_loop(add, bot.store, article, NOW)
        ids.append(article.id)
    return ids


def buttons(bot: Bot) -> list[str]:
    markup = bot.fake.sent[-1].params.get("reply_markup") or {"inline_keyboard": []}
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]


async def test_search_pages_of_five_with_a_button(bot: Bot) -> None:
    chat = bot.chat()
    assert (await chat.send("/search")).startswith("Send the words to look for")
    await publish(bot, 12)
    reply = await chat.send("/search riforme")
    lines = reply.splitlines()
    assert lines[0] == "<b>Results for “riforme”:</b>"
    numbered = [line for line in lines if line[:2] in {f"{n}." for n in range(1, 10)}]
    assert len(numbered) == 5 and "Notizia 12 sulla riforma" in numbered[0]  # newest first
    assert "<b>riforme</b>" in reply  # the snippets mark the matched words
    assert buttons(bot) == ["search:5:riforme"]
    message = bot.fake.sent[-1].message_id
    assert message is not None
    bot.fake.callback("search:5:riforme", chat_id=USER, message_id=message)
    await bot.fake.wait_for(lambda: any(a.method == "editmessagetext" for a in bot.fake.attempts))
    edit = [a for a in bot.fake.attempts if a.method == "editmessagetext"][-1]
    assert edit.outcome == "ok" and "\n6. " in edit.text and "\n10. " in edit.text
    assert "Notizia 7 sulla riforma" in edit.text


async def test_the_chats_language_and_nothing_found(bot: Bot) -> None:
    await publish(bot, 2)
    chat = bot.chat(language="it")
    assert (await chat.send("/search calcio")) == "Nessun articolo trovato per «calcio»."
    assert (await chat.send("/search riforma")).startswith("<b>Risultati per «riforma»:</b>")
    assert (await chat.send("/search " + "x" * 300)).startswith("Una ricerca è lunga al massimo")


async def test_forged_and_stale_buttons(bot: Bot) -> None:
    await publish(bot, 12)
    chat = bot.chat()
    await chat.send("/search riforma")
    message = bot.fake.sent[-1].message_id
    assert message is not None
    for data in ("search:abc:riforma", "search:5:#no-such-token", "search:-5:riforma"):
        answers = bot.fake.callback_answers
        before = len(answers)
        bot.fake.callback(data, chat_id=USER, message_id=message)
        await bot.fake.wait_for(lambda n=before, a=answers: len(a) > n)
        assert "expired" in bot.fake.callback_answers[-1].get("text", "")
    edits_before = sum(a.method == "editmessagetext" for a in bot.fake.attempts)
    bot.fake.callback("search:999999:riforma", chat_id=USER, message_id=message)
    await bot.fake.wait_for(
        lambda: sum(a.method == "editmessagetext" for a in bot.fake.attempts) > edits_before
    )
    edit = [a for a in bot.fake.attempts if a.method == "editmessagetext"][-1]
    # clamped to the last page there can be (46-50): twelve articles leave it empty
    assert edit.outcome == "ok" and edit.text == "No articles found for “riforma”."


async def test_search_is_in_the_menu_and_help(bot: Bot) -> None:
    assert "/search" in await bot.chat().send("/help")
