"""Inline mode in the emulator, through the real python-telegram-bot stack over real HTTP:
an Application answers inline queries, users choose results, and answerInlineQuery
refuses what the Bot API server refuses (the texts: docs/telegram-emulator.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import (
    Bot,
    InlineQueryResultArticle,
    InlineQueryResultsButton,
    InputTextMessageContent,
    Update,
)
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ChosenInlineResultHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

import feedbot.telegram  # noqa: F401 - sets PTB_TIMEDELTA, as the app does
from feedbot.fakegram import FakeBotAPI, FakeLimits

TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        server.set_inline()
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as b:
        yield b


@pytest.fixture
def refused(fake: FakeBotAPI) -> list[str]:
    """The emulator's error descriptions, word for word (PTB's exceptions reword them)."""
    said: list[str] = []
    fake.add_observer(
        lambda method, params, result, status, text: status != 200 and said.append(text)
    )
    return said


def article(result_id: str, text: str = "<b>Riforma</b> delle pensioni", **kw: Any) -> Any:
    return InlineQueryResultArticle(
        result_id,
        kw.pop("title", "Riforma"),
        InputTextMessageContent(text, parse_mode="HTML"),
        **kw,
    )


def raw_article(result_id: str = "1", **fields: Any) -> dict[str, Any]:
    """An article as JSON, to send what PTB's classes would not build (``...``: left out)."""
    result = {"type": "article", "id": result_id, "title": "T"}
    result["input_message_content"] = {"message_text": "hello"}
    for name, value in fields.items():
        if value is ...:
            del result[name]
        else:
            result[name] = value
    return result


async def answer_raw(bot: Bot, query_id: str, results: list[Any], **kw: Any) -> bool:
    """answerInlineQuery with ``results`` exactly as given (PTB sends api_kwargs as JSON)."""
    return await bot.answer_inline_query(query_id, [], api_kwargs={"results": results, **kw})


async def test_get_me_reports_inline_mode_only_once_turned_on() -> None:
    async with FakeBotAPI() as fake, Bot(fake.token, base_url=fake.base_url) as b:
        assert (await b.get_me()).supports_inline_queries is False
        fake.set_inline()
        assert (await b.get_me()).supports_inline_queries is True
        fake.set_inline(False)
        assert (await b.get_me()).supports_inline_queries is False


async def test_an_application_answers_and_the_chosen_result_lands_via_the_bot(
    fake: FakeBotAPI,
) -> None:
    queries: list[tuple[str, str, str | None]] = []
    chosen: list[tuple[str, str, int]] = []
    seen_via: list[str] = []

    async def search(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer every inline query with two articles."""
        q = update.inline_query
        assert q is not None
        queries.append((q.query, q.offset, q.chat_type))
        results = [article(f"{q.query}-1"), article(f"{q.query}-2", "plain")]
        button = InlineQueryResultsButton("Open feedbot", start_parameter="search")
        await q.answer(results, cache_time=0, is_personal=True, next_offset="2", button=button)

    async def shared(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Count what users shared."""
        c = update.chosen_inline_result
        assert c is not None
        chosen.append((c.result_id, c.query, c.from_user.id))

    async def via(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Note messages sent via the bot in its private chats."""
        assert update.effective_message is not None and update.effective_message.via_bot
        seen_via.append(update.effective_message.via_bot.username or "")

    fake.set_inline_feedback()
    app: Application = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()  # type: ignore[type-arg]
    app.add_handler(InlineQueryHandler(search))
    app.add_handler(ChosenInlineResultHandler(shared))
    app.add_handler(MessageHandler(filters.VIA_BOT, via))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=timedelta(seconds=1), allowed_updates=Update.ALL_TYPES
        )
        # A group the bot is not in: the query still reaches the bot.
        in_group = fake.inline_query("pensioni", user_id=5, chat_id=-100200, offset="")
        await fake.wait_for(lambda: fake.inline_answer(in_group) is not None)
        answer = fake.inline_answer(in_group)
        assert answer is not None
        assert [r["id"] for r in answer.results] == ["pensioni-1", "pensioni-2"]
        assert (answer.next_offset, answer.cache_time, answer.is_personal) == ("2", 0, True)
        assert answer.button == {"text": "Open feedbot", "start_parameter": "search"}
        message = fake.choose_inline_result(in_group, "pensioni-1")
        await fake.wait_for(lambda: len(chosen) == 1)
        # The user's private chat with the bot ("sender"): the bot sees the message too.
        in_private = fake.inline_query("riforma", user_id=5, offset="2")
        await fake.wait_for(lambda: fake.inline_answer(in_private) is not None)
        fake.choose_inline_result(in_private, "riforma-2")
        await fake.wait_for(lambda: len(chosen) == 2 and len(seen_via) == 1)
        await app.updater.stop()
        await app.stop()
    assert queries == [("pensioni", "", "group"), ("riforma", "2", "sender")]
    assert chosen == [("pensioni-1", "pensioni", 5), ("riforma-2", "riforma", 5)]
    assert seen_via == ["feedbot_test_bot"]
    assert fake.via_bot(-100200) == [message]
    assert message["from"]["id"] == 5 and message["via_bot"]["username"] == "feedbot_test_bot"
    assert message["text"] == "Riforma delle pensioni"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 7}]
    assert [m["text"] for m in fake.via_bot(5)] == ["plain"]
    assert fake.sent == []  # the user sent them, not the bot
    assert [r.status for r in fake.requests if r.method == "answerinlinequery"] == [200, 200]


async def test_a_chat_the_bot_is_not_in_stays_unknown_to_it() -> None:
    async with FakeBotAPI(strict_chats=True) as fake, Bot(fake.token, base_url=fake.base_url) as b:
        fake.set_inline()
        query_id = fake.inline_query("pensioni", user_id=5, chat_id=-100300)
        await b.answer_inline_query(query_id, [article("1")])
        assert fake.choose_inline_result(query_id, "1")["chat"]["type"] == "group"
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await b.send_message(-100300, "hello")


async def test_a_query_longer_than_256_characters_cannot_be_typed(fake: FakeBotAPI) -> None:
    fake.inline_query("x" * 256, user_id=5)
    with pytest.raises(ValueError, match="256"):
        fake.inline_query("x" * 257, user_id=5)


async def test_no_inline_query_update_while_inline_mode_is_off(
    bot: Bot, fake: FakeBotAPI, refused: list[str]
) -> None:
    fake.set_inline(False)
    query_id = fake.inline_query("pensioni", user_id=5)
    assert await bot.get_updates(timeout=0) == ()
    with pytest.raises(BadRequest):  # the bot cannot know the id: invalid
        await bot.answer_inline_query(query_id, [article("1")])
    assert refused == [TOO_OLD]
    fake.set_inline()
    fake.inline_query("pensioni", user_id=5)
    [update] = await bot.get_updates(timeout=0)
    assert update.inline_query is not None and update.inline_query.chat_type == "sender"


async def test_allowed_updates_decide_who_hears_of_queries_and_choices(
    bot: Bot, fake: FakeBotAPI
) -> None:
    fake.set_inline_feedback()
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    fake.inline_query("ignored", user_id=5)
    assert await bot.get_updates(timeout=0) == ()  # the setting stays without the parameter
    await bot.get_updates(timeout=0, allowed_updates=["inline_query"])
    query_id = fake.inline_query("pensioni", user_id=5, chat_id=-7)
    [update] = await bot.get_updates(timeout=0)
    assert update.inline_query is not None and update.inline_query.id == query_id
    await bot.answer_inline_query(query_id, [article("1")])
    fake.choose_inline_result(query_id, "1")
    assert await bot.get_updates(timeout=0, offset=update.update_id + 1) == ()
    await bot.get_updates(timeout=0, allowed_updates=[])  # empty: the default, all but a few
    second = fake.inline_query("pensioni", user_id=5, chat_id=-7)
    await bot.answer_inline_query(second, [article("1")])
    fake.choose_inline_result(second, "1")
    got = await bot.get_updates(timeout=0)
    assert [u.chosen_inline_result.result_id for u in got if u.chosen_inline_result] == ["1"]


async def test_a_webhook_s_allowed_updates_count_too(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.set_webhook("https://example.invalid/hook", allowed_updates=["message"])
    fake.inline_query("pensioni", user_id=5)
    assert (await bot.get_webhook_info()).pending_update_count == 0
    fake.command("/start", chat_id=5)
    assert (await bot.get_webhook_info()).pending_update_count == 1


async def test_a_webhook_receives_inline_queries_like_other_updates(fake: FakeBotAPI) -> None:
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return Response(status_code=200)

    receiver = FakeBotAPI()  # borrow its server plumbing for a plain Starlette receiver
    receiver.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with receiver, Bot(fake.token, base_url=fake.base_url) as b:
        url = receiver.base_url.removesuffix("/bot") + "/hook"
        await b.set_webhook(url, allowed_updates=["inline_query"])
        query_id = fake.inline_query("pensioni", user_id=5, chat_id=-100200, chat_type="channel")
        await fake.wait_for(lambda: len(received) == 1, timeout=5)
    [update] = received
    assert update["inline_query"]["id"] == query_id
    assert update["inline_query"]["chat_type"] == "channel"
    assert update["inline_query"]["from"]["id"] == 5


async def test_no_chosen_result_update_without_inline_feedback(bot: Bot, fake: FakeBotAPI) -> None:
    query_id = fake.inline_query("pensioni", user_id=5, chat_id=-7)
    [update] = await bot.get_updates(timeout=0)
    await bot.answer_inline_query(query_id, [article("1")])
    fake.choose_inline_result(query_id, "1")
    assert await bot.get_updates(timeout=0, offset=update.update_id + 1) == ()
    assert [m["text"] for m in fake.via_bot(-7)] == ["Riforma delle pensioni"]


async def test_an_unknown_query_id_is_refused(bot: Bot, refused: list[str]) -> None:
    with pytest.raises(BadRequest):
        await bot.answer_inline_query("12345", [article("1")])
    assert refused == [TOO_OLD]


async def test_a_second_answer_is_refused_and_the_first_stays(
    bot: Bot, fake: FakeBotAPI, refused: list[str]
) -> None:
    query_id = fake.inline_query("pensioni", user_id=5)
    assert await bot.answer_inline_query(query_id, [article("first")])
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(query_id, [article("second")])
    assert refused == [TOO_OLD]
    assert [r["id"] for r in getattr(fake.inline_answer(query_id), "results", [])] == ["first"]
    assert [r.status for r in fake.requests if r.method == "answerinlinequery"] == [200, 400]
    assert len(fake.calls("answerInlineQuery")) == 2


async def test_an_answer_after_ten_seconds_is_too_old(
    bot: Bot, fake: FakeBotAPI, refused: list[str]
) -> None:
    now = [100.0]
    fake.clock = lambda: now[0]
    in_time, too_late = fake.inline_query("a", user_id=5), fake.inline_query("b", user_id=5)
    now[0] = 110.0
    assert await bot.answer_inline_query(in_time, [article("1")])
    now[0] = 110.01
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(too_late, [article("1")])
    assert refused == [TOO_OLD]
    assert fake.inline_answer(too_late) is None


async def test_the_timeout_is_a_limit_tests_can_shorten() -> None:
    now, limits = [0.0], FakeLimits(inline_answer_timeout=0.5)
    fake = FakeBotAPI(limits=limits, clock=lambda: now[0])
    async with fake, Bot(fake.token, base_url=fake.base_url) as b:
        fake.set_inline()
        query_id = fake.inline_query("pensioni", user_id=5)
        now[0] = 0.6
        with pytest.raises(BadRequest, match=r"(?i)query is too old"):
            await b.answer_inline_query(query_id, [article("1")])


async def test_at_most_fifty_results(bot: Bot, fake: FakeBotAPI, refused: list[str]) -> None:
    query_id = fake.inline_query("pensioni", user_id=5)
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(query_id, [article(str(i)) for i in range(51)])
    assert refused == ["Bad Request: too many inline query results specified"]
    assert fake.inline_answer(query_id) is None  # a refused answer leaves the query open
    assert await bot.answer_inline_query(query_id, [article(str(i)) for i in range(50)])


@pytest.mark.parametrize(
    ("ids", "error"),
    [
        ([""], "RESULT_ID_EMPTY"),
        (["é" * 33], "RESULT_ID_INVALID"),  # 66 bytes, 33 characters
        (["a", "b", "a"], "RESULT_ID_DUPLICATE"),
    ],
)
async def test_result_ids_are_1_to_64_bytes_and_unique(
    bot: Bot, fake: FakeBotAPI, refused: list[str], ids: list[str], error: str
) -> None:
    query_id = fake.inline_query("pensioni", user_id=5)
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(query_id, [article(i) for i in ids])
    assert refused == [f"Bad Request: {error}"]
    assert await bot.answer_inline_query(query_id, [article("é" * 32), article("a" * 64)])


async def test_next_offset_is_at_most_64_bytes(
    bot: Bot, fake: FakeBotAPI, refused: list[str]
) -> None:
    query_id = fake.inline_query("pensioni", user_id=5)
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(query_id, [article("1")], next_offset="9" * 65)
    assert refused == ["Bad Request: NEXT_OFFSET_INVALID"]
    assert await bot.answer_inline_query(query_id, [article("1")], next_offset="9" * 64)
    looks_like_a_number = fake.inline_query("pensioni", user_id=5)
    await bot.answer_inline_query(looks_like_a_number, [article("1")], next_offset="1e5")
    assert getattr(fake.inline_answer(looks_like_a_number), "next_offset", "") == "1e5"


CANT_PARSE = "Bad Request: can't parse inline query result: "


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (raw_article(title=...), CANT_PARSE + 'Can\'t find field "title"'),
        (raw_article(title=""), "Bad Request: ARTICLE_TITLE_EMPTY"),
        (raw_article(input_message_content=...), CANT_PARSE + 'Can\'t find field "message_text"'),
        (
            raw_article(input_message_content={"message_text": ""}),
            CANT_PARSE + "Input message content is not specified",
        ),
        (raw_article(id=...), CANT_PARSE + 'Can\'t find field "id"'),
    ],
    ids=["no title", "empty title", "no content", "empty message_text", "no id"],
)
async def test_an_article_needs_title_and_message_content(
    bot: Bot, fake: FakeBotAPI, refused: list[str], result: dict[str, Any], error: str
) -> None:
    query_id = fake.inline_query("pensioni", user_id=5)
    with pytest.raises(BadRequest):
        await answer_raw(bot, query_id, [raw_article("ok"), result])
    assert refused == [error]
    assert await answer_raw(bot, query_id, [raw_article("ok")])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("<b>unclosed", "can't parse entities"),
        ("a &nbsp; b", "can't parse entities"),
        ("<b> </b>", "message text is empty"),
        ("x" * 4097, "message is too long"),
        ("<b>" + "😀" * 2048 + "</b>x", "message is too long"),  # 4097 UTF-16 units
    ],
)
async def test_message_text_is_checked_as_send_message_checks_it(
    bot: Bot, fake: FakeBotAPI, refused: list[str], text: str, error: str
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(7, text, parse_mode="HTML")
    query_id = fake.inline_query("pensioni", user_id=5)
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(query_id, [article("1"), article("2", text)])
    assert refused[0].startswith(f"Bad Request: {error}")
    assert refused == [refused[0]] * 2  # the same 400 text as sendMessage
    assert await bot.answer_inline_query(query_id, [article("1", "<b>" + "😀" * 2048 + "</b>")])


async def test_refusals_reach_the_observers_like_other_methods(bot: Bot, fake: FakeBotAPI) -> None:
    heard: list[tuple[str, int, str]] = []
    fake.add_observer(lambda m, p, r, s, d: heard.append((m, s, d)))
    query_id = fake.inline_query("pensioni", user_id=5)
    with pytest.raises(BadRequest):
        await bot.answer_inline_query(query_id, [article("1"), article("1")])
    await bot.answer_inline_query(query_id, [article("1")])
    assert heard == [
        ("answerinlinequery", 400, "Bad Request: RESULT_ID_DUPLICATE"),
        ("answerinlinequery", 200, ""),
    ]
