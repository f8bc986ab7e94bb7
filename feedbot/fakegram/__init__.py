"""A fake Telegram Bot API server on 127.0.0.1, for driving python-telegram-bot over real HTTP.

It behaves like Telegram where a broadcasting bot can go wrong: HTML parse errors,
the 4096-unit limit, blocked and unknown chats, migrated groups, flood control
(sliding windows, configurable), and injected faults (5xx, timeouts, 429s) from a
seeded RNG. What it copies of Telegram, with the sources: docs/telegram-emulator.md.
Use it either way::

    async with FakeBotAPI() as fake:          # inside a pytest-asyncio test
        bot = telegram.Bot(fake.token, base_url=fake.base_url)

    fake = FakeBotAPI().start_in_thread()     # for a subprocess daemon
    ...; fake.stop_thread()

The control API is plain Python, thread-safe, callable from the test (or the playground)
while the server runs; nothing outside this package touches the emulator's private names.

Chats and members
    ``add_chat(chat_id, type, title=, username=)``, ``add_forum(chat_id, title=)``,
    ``add_topic`` / ``close_topic`` / ``delete_topic(chat_id, thread_id)``;
    ``chat(chat_id, type=None)``: the Chat object an update carries (added if unknown);
    ``set_member(chat_id, user_id, status)``: a member's role as getChatMember answers it
    (creator, administrator, member, left, kicked); ``block(chat_id)`` (sends get 403);
    ``migrate(chat_id, new_chat_id)`` (the group became a supergroup).
What users do (each queues an update for getUpdates or the webhook; returns its update_id)
    ``command(text, chat_id=, user_id=, chat_type=, language_code=, thread_id=)``: a user
    speaks (a command or any text); ``callback(data, chat_id=, message_id=, …)``: a user
    presses an inline button; ``chat_member(chat_id=, old=, new=)``: the bot's own
    membership changes; ``inject(update)``: any update built by hand, with
    ``next_message_id(chat_id)`` for its message id (users and the bot share one count).
Inline mode (off by default, as before @BotFather ``/setinline``)
    ``set_inline(True)`` turns it on (getMe's supports_inline_queries), and
    ``set_inline_feedback(True)`` the chosen-result updates (``/setinlinefeedback``);
    ``inline_query(query, user_id=, chat_id=, chat_type=, offset=)``: a user types
    ``@bot query`` in any chat (default: their private chat with the bot), queued as an
    inline_query update if inline mode is on and the bot's allowed_updates ask for it;
    returns the query id. ``inline_answer(query_id)``: the bot's answer (`InlineAnswer`:
    results, next_offset, cache_time, is_personal, button; None before it came);
    ``choose_inline_result(query_id, result_id, thread_id=)``: the user sends that
    result into the chat (or forum topic) "via @bot" (returns the message; a
    chosen_inline_result update if feedback is on); ``via_bot(chat_id)``: the messages
    sent so. For example::

        fake.set_inline()
        query_id = fake.inline_query("pensioni", user_id=5, chat_id=-100200)
        await fake.wait_for(lambda: fake.inline_answer(query_id) is not None)
        fake.choose_inline_result(query_id, fake.inline_answer(query_id).results[0]["id"])
        assert fake.via_bot(-100200)[0]["via_bot"]["username"] == "feedbot_test_bot"
What the bot did
    ``sent`` (accepted sendMessage calls), ``texts(chat_id)``, ``shown(chat_id)`` (what a
    chat shows now, after edits and deletions), ``markup(chat_id, message_id)``,
    ``thread_of_message(chat_id, message_id)``, ``done(method)`` (accepted edits,
    deletions …), ``delete(chat_id, message_id)`` (someone else deleted it),
    ``command_menu(language_code, scope)`` (what setMyCommands set; also the raw
    ``commands`` dict), ``callback_answers``, ``webhook``.
Logs
    ``attempts`` (each message a bot tried to send, with its outcome), ``requests`` (each
    request once answered), ``retry_windows`` (each 429's), ``count_429``,
    ``requests_in_retry_windows(grace)``, and the call log ``calls(method, replica=…)``:
    each request as it arrived, in order, even one still waiting (a getUpdates long
    poll), with the offset a getUpdates confirms. Every request is tagged with the client
    that made it (``base_url_for(name)``).
Hooks and knobs
    ``add_observer(observer)``: the observer is called with ``(method, params, result,
    status, description)`` for every call that reached its handler, once answered (the
    playground draws its chats from it); ``set_faults(rate=, seed=, …)``: injected 5xx,
    timeouts and 429s; ``delays`` makes a method slow (``fake.delays["setmycommands"] =
    2.0``); ``latency`` does so for sendMessage; ``limits`` (`FakeLimits`) for flood
    control and the inline answer timeout; ``wait_for(predicate)`` waits in the test's
    loop.

The package, by job: `server` (`FakeBotAPI`: lifecycle, routing, faults), `state` (the
chats and bookkeeping every part shares), `messages` (sendMessage, editMessageText,
deleteMessage, flood control), `updates` (getUpdates, the webhook, commands, callbacks,
membership changes), `inline` (inline queries, answerInlineQuery, chosen results),
`forums` (forum topics) and `records` (the dataclasses and helpers).
"""

from __future__ import annotations

from feedbot.fakegram.forums import ForumTopics
from feedbot.fakegram.records import (
    DEFAULT_TOKEN,
    DELETE_AFTER,
    SEND_METHODS,
    Call,
    FakeLimits,
    Faults,
    InlineAnswer,
    JSONDict,
    Observer,
    RequestRecord,
    RetryWindow,
    Sent,
)
from feedbot.fakegram.server import FakeBotAPI

__all__ = [
    "DEFAULT_TOKEN",
    "DELETE_AFTER",
    "SEND_METHODS",
    "Call",
    "FakeBotAPI",
    "FakeLimits",
    "Faults",
    "ForumTopics",
    "InlineAnswer",
    "JSONDict",
    "Observer",
    "RequestRecord",
    "RetryWindow",
    "Sent",
]
