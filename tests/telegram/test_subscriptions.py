"""Subscriptions through the real python-telegram-bot stack and the fake Bot API, on
SQLite and PostgreSQL: the chat's own language, forum topics, filters, /latest, quiet
hours, post styles, every settings command and the /settings buttons (forged or stale
presses refused). The clock is injected wherever time matters."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feedbot.articles.model import Article
from feedbot.fakegram import FakeBotAPI, Sent
from feedbot.store import Store, Subscription
from feedbot.telegram.assemble import build_service
from tests.botkit import Index, make_settings, plain
from tests.sitekit import article
from tests.storekit import add, deliveries_for, off_loop
from tests.telegram import test_bot
from tests.telegram.test_bot import ADMIN, USER, Bot
from tests.waiting import until_async

# The fake Bot API and the token-never-logged check, as in the bot's own tests.
fake = test_bot.fake
_token_never_logged = test_bot._token_never_logged

FORUM = -1001234567890123
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # 13:00 in Rome


class Clock:
    """The time the bot and the sender see; tests move it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
async def bot(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path, clock: Clock
) -> AsyncIterator[Bot]:
    settings = make_settings(tmp_path, fake.base_url, storage_url=database_url, admins=[ADMIN])
    service = build_service(settings, store, clock=clock)
    await service.start()
    await service.lead()
    try:
        yield Bot(fake, store, service, tmp_path)
    finally:
        await service.stop()


_numbers: Iterator[int] = iter(range(1, 10_000))


async def publish(bot: Bot, headline: str, *, language: str = "it") -> Article:
    """Store a new article (queued for every subscription that takes it) and wake the
    sender; the article."""
    new = article(next(_numbers), headline=headline, language=language)
    assert await off_loop(add, bot.store, new, NOW)
    bot.service.wake()
    return new


def posts(fake: FakeBotAPI, chat: int, thread: int | None = None) -> list[Sent]:
    """The posts (not replies) a chat or one of its topics received."""
    return [
        s
        for s in fake.sent
        if s.chat_id == chat
        and s.params.get("message_thread_id") == thread
        and "articles/" in s.text
        and "latest article" not in s.text
    ]


async def sub(bot: Bot, chat: int, thread: int = 0) -> Subscription | None:
    return await off_loop(bot.store.subscriptions.get, str(chat), thread)


# --------------------------------------------------------------------------- language


async def test_start_in_italian_then_the_post_is_in_italian(bot: Bot) -> None:
    """The defect: /start with language_code=it stored nothing, so posts were English."""
    assert (await bot.chat(language="it").send("/start")).startswith("Benvenuto")
    await publish(bot, "Una notizia")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 1)
    [post] = posts(bot.fake, USER)
    assert "Leggi l'articolo" in post.text
    stored = await sub(bot, USER)
    assert stored is not None and stored.language == "it"


# --------------------------------------------------------------------------- forum topics


async def test_a_topic_subscribes_alone_and_unsubscribes_alone(bot: Bot) -> None:
    bot.fake.add_forum(FORUM)
    for topic in (7, 9):
        bot.fake.add_topic(FORUM, topic)
    bot.fake.set_member(FORUM, ADMIN, "administrator")
    in_7 = bot.chat(FORUM, user_id=ADMIN, thread_id=7)
    assert (await in_7.send("/subscribe")).startswith("Subscribed")
    [answer] = [s for s in bot.fake.sent if s.chat_id == FORUM]
    assert answer.params.get("message_thread_id") == 7  # the reply stays in the topic
    await publish(bot, "Solo nel topic")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, FORUM, 7)) == 1)
    assert posts(bot.fake, FORUM, 9) == [] and posts(bot.fake, FORUM, None) == []

    await bot.chat(FORUM, user_id=ADMIN, thread_id=9).send("/subscribe")
    await bot.chat(FORUM, user_id=ADMIN).send("/subscribe")  # the General topic
    assert (await in_7.send("/unsubscribe")).startswith("Unsubscribed")
    subs = await off_loop(bot.store.subscriptions.of_chat, str(FORUM))
    assert [s.thread_id for s in subs] == [0, 9]
    await publish(bot, "Ancora")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, FORUM, 9)) == 1)
    await bot.fake.wait_for(lambda: len(posts(bot.fake, FORUM, None)) == 1)
    assert len(posts(bot.fake, FORUM, 7)) == 1  # only the first one


async def test_a_deleted_or_closed_topic_loses_only_its_subscription(bot: Bot) -> None:
    bot.fake.add_forum(FORUM)
    bot.fake.set_member(FORUM, ADMIN, "administrator")
    for topic in (7, 9, 11):
        bot.fake.add_topic(FORUM, topic)
        await bot.chat(FORUM, user_id=ADMIN, thread_id=topic).send("/subscribe")
    bot.fake.delete_topic(FORUM, 7)
    bot.fake.close_topic(FORUM, 9)
    new = await publish(bot, "Dopo la chiusura")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, FORUM, 11)) == 1)

    def settled() -> bool:
        rows = deliveries_for(bot.store, new.id)
        return all(r["status"] in ("sent", "failed") for r in rows) and len(rows) == 3

    await until_async(settled)
    rows = {r["thread_id"]: r for r in await off_loop(deliveries_for, bot.store, new.id)}
    assert "message thread not found" in rows[7]["error"].lower()
    assert "topic_closed" in rows[9]["error"].lower()
    assert rows[11]["status"] == "sent"
    subs = await off_loop(bot.store.subscriptions.of_chat, str(FORUM))
    assert [s.thread_id for s in subs] == [11]
    assert str(FORUM) in await off_loop(bot.store.chats.subscribers)


# --------------------------------------------------------------------------- filters


async def test_keyword_and_language_filters_decide_what_is_posted(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/start")
    reply = await chat.send('/filter +roma +"città eterna" -calcio')
    assert 'Keywords: +roma +"citta eterna" -calcio' in plain([reply])
    taken = await publish(bot, "A Roma si apre la stagione")
    other = await publish(bot, "Parigi e la moda")
    excluded = await publish(bot, "Roma, il calcio di sera")
    phrase = await publish(bot, "La Citta Eterna di notte")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 2)
    for art, wanted in ((taken, True), (other, False), (excluded, False), (phrase, True)):
        rows = await off_loop(deliveries_for, bot.store, art.id)
        assert [r["chat"] for r in rows] == ([str(USER)] if wanted else []), art.headline

    assert "Languages of articles: en" in await chat.send("/filter lang en")
    italian = await publish(bot, "Roma in italiano", language="it")
    english = await publish(bot, "Roma in English", language="en")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 3)
    assert await off_loop(deliveries_for, bot.store, italian.id) == []
    assert len(await off_loop(deliveries_for, bot.store, english.id)) == 1

    reply = await chat.send("/filter clear")
    assert "Keywords: none" in reply and "Languages of articles: en" in reply
    assert "Languages of articles: all" in await chat.send("/filter lang all")


async def test_latest_respects_the_filters(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/start")
    for headline in ("Roma di sera", "Milano di giorno", "Roma di notte"):
        await publish(bot, headline)
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 3)
    await chat.send("/filter +roma")
    reply = await chat.send("/latest")
    assert reply.startswith("<b>The 2 latest articles:</b>")
    assert "Roma di notte" in reply and "Roma di sera" in reply and "Milano" not in reply


async def test_bad_filters_are_refused_with_an_example(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/start")
    reply = plain([await chat.send("/filter +" + "x" * 51)])
    assert "at most 50 characters" in reply and '/filter +word -word "a phrase"' in reply
    assert "not closed" in await chat.send('/filter +"half open')
    many = " ".join(f"+w{i}" for i in range(21))
    assert "at most 20 terms" in await chat.send(f"/filter {many}")
    stored = await sub(bot, USER)
    assert stored is not None and stored.terms == ()


# --------------------------------------------------------------------------- quiet hours


async def test_quiet_hours_silent_sends_without_a_notification(bot: Bot, clock: Clock) -> None:
    chat = bot.chat()
    await chat.send("/start")
    await chat.send("/timezone Europe/Rome")
    assert "Quiet hours: 12:00-14:00, sent silently" in await chat.send("/quiet 12:00-14:00")
    await publish(bot, "Di notte")  # 13:00 in Rome: inside
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 1)
    [post] = posts(bot.fake, USER)
    assert post.params.get("disable_notification") in (True, "true")


async def test_quiet_hours_hold_until_they_end(bot: Bot, clock: Clock) -> None:
    chat = bot.chat()
    await chat.send("/start")
    await chat.send("/timezone Europe/Rome")
    reply = await chat.send("/quiet 12:00-14:00 hold")
    assert "Quiet hours: 12:00-14:00, held until they end" in reply
    new = await publish(bot, "Trattenuto")

    def held() -> bool:
        [row] = deliveries_for(bot.store, new.id)
        return row["error"] == "quiet hours" and row["status"] == "pending"

    await until_async(held)
    [row] = await off_loop(deliveries_for, bot.store, new.id)
    assert row["next_attempt_at"] == datetime(2026, 1, 10, 13, 0, tzinfo=UTC)  # 14:00 Rome
    assert row["attempts"] == 0 and posts(bot.fake, USER) == []
    clock.now = NOW + timedelta(hours=1, minutes=1)
    bot.service.wake()
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 1)
    [post] = posts(bot.fake, USER)
    assert "disable_notification" not in post.params


# --------------------------------------------------------------------------- styles


async def test_styles_compact_and_headlines(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/start")
    assert "Post style: compact" in await chat.send("/style compact")
    await publish(bot, "Compatto")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 1)
    [compact] = posts(bot.fake, USER)
    assert "<blockquote expandable><b>A heading</b>\nSection summary.</blockquote>" in compact.text
    assert compact.text.startswith("<b>Compatto</b>\n")
    assert "Post style: headlines" in await chat.send("/style headlines")
    new = await publish(bot, "Solo titolo")
    await bot.fake.wait_for(lambda: len(posts(bot.fake, USER)) == 2)
    assert posts(bot.fake, USER)[-1].text == (
        f'<a href="https://news.example.org/articles/{new.id}.html">Solo titolo</a>'
    )
    assert "Usage: /style full" in await chat.send("/style fancy")


# --------------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/digest daily 08:00", "Delivery: digest, daily 08:00"),
        ("/digest weekly fri 18:30", "Delivery: digest, weekly fri 18:30"),
        ("/digest off", "Delivery: instant"),
        ("/timezone Europe/Rome", "Timezone: Europe/Rome"),
        ("/quiet 23:00-07:00 hold", "Quiet hours: 23:00-07:00, held until they end"),
        ("/quiet off", "Quiet hours: off"),
        ("/style full", "Post style: full"),
        ("/digest daily 25:00", "Usage: /digest off"),
        ("/digest sometimes", "Usage: /digest off"),
        ("/timezone Mars/Olympus", "Usage: /timezone"),
        ("/quiet 23:00", "Usage: /quiet off"),
        ("/quiet 23:00-07:00 loud", "Usage: /quiet off"),
        ("/digest", "Usage: /digest off"),
    ],
)
async def test_settings_commands_answer_with_what_is_in_force(
    bot: Bot, command: str, expected: str
) -> None:
    chat = bot.chat()
    await chat.send("/start")
    assert expected in await chat.send(command)


async def test_settings_commands_in_italian(bot: Bot) -> None:
    chat = bot.chat(language="it")
    await chat.send("/start")
    reply = await chat.send("/digest daily 08:00")
    assert "Consegna: riepilogo, daily 08:00" in reply
    assert (await chat.send("/timezone Nowhere")).startswith("unknown timezone")
    assert "Uso: /timezone" in await chat.send("/timezone Nowhere")


async def test_settings_need_a_subscription_and_an_admin(bot: Bot) -> None:
    assert "not subscribed" in await bot.chat().send("/style compact")
    bot.fake.set_member(-1005, ADMIN, "administrator")
    await bot.chat(-1005, user_id=ADMIN).send("/subscribe")
    assert "administrators" in await bot.chat(-1005, user_id=USER).send("/style compact")
    stored = await sub(bot, -1005)
    assert stored is not None and stored.style == "full"


async def test_new_commands_are_registered_in_both_languages(bot: Bot) -> None:
    for language in ("", "it"):
        names = {c["command"] for c in bot.fake.commands[("default", language)]}
        assert {"digest", "timezone", "quiet", "filter", "style", "settings"} <= names


# --------------------------------------------------------------------------- /settings buttons


async def test_settings_buttons_change_settings_in_place(bot: Bot) -> None:
    chat = bot.chat()
    await chat.send("/start")
    await chat.send("/settings")
    menu = bot.fake.sent[-1]
    assert menu.message_id is not None

    def edits() -> list[Sent]:
        return [a for a in bot.fake.attempts if a.method == "editmessagetext"]

    bot.fake.callback("s:0:1:style:compact", chat_id=USER, message_id=menu.message_id)
    await bot.fake.wait_for(lambda: len(edits()) == 1)
    bot.fake.callback("s:0:2:mode:daily", chat_id=USER, message_id=menu.message_id)
    await bot.fake.wait_for(lambda: len(edits()) == 2)
    bot.fake.callback("s:0:3:tz:1", chat_id=USER, message_id=menu.message_id)
    await bot.fake.wait_for(lambda: len(edits()) == 3)
    assert [e.outcome for e in edits()] == ["ok"] * 3
    assert all(int(e.params["message_id"]) == menu.message_id for e in edits())  # in place
    assert "Timezone: Europe/Rome" in edits()[-1].text
    stored = await sub(bot, USER)
    assert stored is not None
    assert (stored.style, stored.mode, stored.digest, stored.version) == (
        "compact",
        "digest",
        "daily 08:00",
        4,
    )
    # 08:00 in Rome after 13:00 on 10 January: 07:00 UTC the next day
    assert stored.next_digest_at == datetime(2026, 1, 11, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "answer"),
    [
        ("s:0:9:style:compact", "out of date"),  # a version the settings are not at
        ("s:0:1:style:fancy", "Unknown choice"),  # a value we never offer
        ("s:0:1:nosuch:1", "Unknown choice"),
        ("s:0:1:tz:99", "Unknown choice"),
        ("s:5:1:style:compact", "another chat or topic"),  # a topic other than the menu's
        ("s:0:1:style:compact:extra", "Unknown choice"),
        ("lang:it", "Unknown choice"),  # a menu of the previous release
    ],
)
async def test_forged_or_stale_buttons_are_refused(bot: Bot, data: str, answer: str) -> None:
    chat = bot.chat()
    await chat.send("/start")
    await chat.send("/settings")
    menu = bot.fake.sent[-1]
    assert menu.message_id is not None
    bot.fake.callback(data, chat_id=USER, message_id=menu.message_id)
    await bot.fake.wait_for(lambda: len(bot.fake.callback_answers) == 1)
    assert answer in str(bot.fake.callback_answers[0].get("text"))
    stored = await sub(bot, USER)
    assert stored is not None and (stored.version, stored.style) == (1, "full")
    assert not [a for a in bot.fake.attempts if a.method == "editmessagetext"]


async def test_a_button_of_another_chat_cannot_change_this_one(bot: Bot) -> None:
    """The menu drawn in chat A pressed "from" chat B: Telegram sends B's message, and the
    subscription changed is B's own — or none when B has no menu there."""
    await bot.chat(USER).send("/start")
    await bot.chat(USER).send("/settings")
    menu = bot.fake.sent[-1]
    assert menu.message_id is not None
    other = 2002
    await bot.chat(other).send("/start")
    bot.fake.callback("s:0:1:style:compact", chat_id=other, message_id=menu.message_id)
    await bot.fake.wait_for(lambda: len(bot.fake.callback_answers) == 1)
    mine = await sub(bot, USER)
    assert mine is not None and mine.style == "full"


async def test_index_written_articles_reach_topics(bot: Bot, clock: Clock) -> None:
    """The indexer's own path (apply_changes → queue_posts), not only `add`."""
    clock.now = datetime.now(UTC) + timedelta(minutes=1)  # the indexer stamps real time
    bot.fake.add_forum(FORUM)
    bot.fake.add_topic(FORUM, 3)
    bot.fake.set_member(FORUM, ADMIN, "administrator")
    await bot.chat(FORUM, user_id=ADMIN, thread_id=3).send("/subscribe")
    index = await off_loop(Index, bot.tmp_path / "index", bot.store)
    index.write(1)
    await off_loop(index.scan)
    [new] = index.write(1)
    assert await off_loop(index.scan) == (new,)
    bot.service.wake()
    await until_async(lambda: [r["status"] for r in deliveries_for(bot.store, new)] == ["sent"])
    [row] = await off_loop(deliveries_for, bot.store, new)
    assert row["thread_id"] == 3
    in_forum = [s for s in bot.fake.sent if s.chat_id == FORUM]
    assert len(in_forum) > 1  # the reply to /subscribe, then the post
    assert all(s.params.get("message_thread_id") == 3 for s in in_forum)


@pytest.mark.parametrize(
    ("data", "field", "value"),
    [
        ("s:0:1:lang:it", "language", "it"),
        ("s:0:1:mode:weekly", "digest", "weekly mon 08:00"),
        ("s:0:1:time:2100", "digest", "daily 21:00"),
        ("s:0:1:tz:3", "timezone", "America/New_York"),
        ("s:0:1:quiet:hold", "quiet_action", "hold"),
        ("s:0:1:quiet:off", "quiet", None),
        ("s:0:1:flang:en", "languages", ("en",)),
        ("s:0:1:fclear:1", "terms", ()),
        ("s:0:1:style:headlines", "style", "headlines"),
    ],
)
async def test_every_kind_of_button(bot: Bot, data: str, field: str, value: object) -> None:
    chat = bot.chat()
    await chat.send("/start")
    await chat.send("/filter +roma")  # version 2
    await chat.send("/settings")
    menu = bot.fake.sent[-1]
    assert menu.message_id is not None
    data = data.replace("s:0:1:", "s:0:2:")
    bot.fake.callback(data, chat_id=USER, message_id=menu.message_id)
    await bot.fake.wait_for(lambda: any(a.method == "editmessagetext" for a in bot.fake.attempts))
    stored = await sub(bot, USER)
    assert stored is not None and stored.version == 3
    assert getattr(stored, field) == value
