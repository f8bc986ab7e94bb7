"""A result chosen inside a forum topic lands in that topic, as Telegram clients send it
(the message carries ``message_thread_id`` and ``is_topic_message``); elsewhere it carries
neither."""

from __future__ import annotations

from telegram import Bot

from feedbot.fakegram import FakeBotAPI
from tests.fakegram.test_inline import article, bot, fake

__all__ = ["bot", "fake"]

FORUM = -100300


async def test_a_result_chosen_in_a_topic_stays_in_it(bot: Bot, fake: FakeBotAPI) -> None:
    fake.add_forum(FORUM, title="Forum")
    fake.add_topic(FORUM, 4)
    in_topic = fake.inline_query("pensioni", user_id=5, chat_id=FORUM)
    in_general = fake.inline_query("pensioni", user_id=5, chat_id=FORUM)
    for query_id in (in_topic, in_general):
        assert await bot.answer_inline_query(query_id, [article("1")])
    topic = fake.choose_inline_result(in_topic, "1", thread_id=4)
    general = fake.choose_inline_result(in_general, "1")
    assert (topic["message_thread_id"], topic["is_topic_message"]) == (4, True)
    assert "message_thread_id" not in general and "is_topic_message" not in general
    assert [m["message_id"] for m in fake.via_bot(FORUM)] == [
        topic["message_id"],
        general["message_id"],
    ]
