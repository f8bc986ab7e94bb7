"""Inline mode in the playground: ``@bot words`` typed in the composer, the bot's answer
shown above it, a chosen result sent into the chat as the user, "via @bot".

`InlinePicker.ask` types the query into the emulator as the simulated user, in the open
chat (`FakeBotAPI.inline_query`), and waits for the bot's answerInlineQuery as the
emulator's observer reports it, accepted or refused, at most the emulator's answer
timeout (10 s, as Telegram) and a little more. Telegram shows nothing when inline mode is
off, the bot is silent or its answer is refused; the playground answers with no results
and a note that says which. `InlinePicker.choose` sends a result of one of *its* queries
through `FakeBotAPI.choose_inline_result` (which tells the bot with a
``chosen_inline_result`` update when inline feedback is on) and logs the message as the
user's. Each query can be chosen from once; the newest `REMEMBERED` are kept, and at most
`MAX_WAITING` wait for the bot at once (429 past that).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from feedbot.fakegram.inline import MAX_QUERY_LENGTH
from feedbot.playground.chatlog import LoggedMessage
from feedbot.playground.chats import USER_ID, PlaygroundError

if TYPE_CHECKING:
    from feedbot.playground.observed import ObservedBotAPI
    from feedbot.playground.service import Playground

__all__ = ["MAX_WAITING", "REMEMBERED", "InlinePicker", "shown_result"]

JSONDict = dict[str, Any]

MAX_WAITING = 8  # queries waiting for the bot's answer at once
REMEMBERED = 64  # answered queries a result can still be chosen from
GRACE = 1.0  # seconds past the emulator's timeout: a late answer is refused, and reported
TITLE, DESCRIPTION = 256, 512  # characters of a result the page shows


@dataclass
class _Asked:
    """One query the simulated user typed: where, and how the bot answered."""

    chat: int
    thread: int | None
    answered: asyncio.Future[tuple[int, str]]  # answerInlineQuery's status and description


def shown_result(result: Mapping[str, Any]) -> JSONDict:
    """What the page lists of one result: plain text only, never markup to parse."""
    content = result.get("input_message_content")
    sendable = isinstance(content, Mapping) and bool(content.get("message_text"))
    return {
        "id": str(result.get("id", "")),
        "type": str(result.get("type", "")),
        "title": str(result.get("title") or "")[:TITLE],
        "description": str(result.get("description") or "")[:DESCRIPTION],
        "sendable": sendable or bool(result.get("message_text")),
    }


class InlinePicker:
    """The simulated user's inline queries and choices (see the module docstring)."""

    def __init__(self, playground: Playground) -> None:
        self.playground = playground
        self._asked: OrderedDict[str, _Asked] = OrderedDict()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Queries waiting for the bot's answer now."""
        return self._waiting

    def observe(
        self, method: str, params: JSONDict, result: Any, status: int, description: str
    ) -> None:
        """The bot called ``method`` (on the daemon's loop): an answer to one of ours?"""
        if method != "answerinlinequery":
            return
        asked = self._asked.get(str(params.get("inline_query_id", "")))
        if asked is not None and not asked.answered.done():
            asked.answered.set_result((status, description))

    def _emulator(self) -> ObservedBotAPI:
        emulator = self.playground.emulator
        if emulator is None or not self.playground.running:
            raise PlaygroundError("the playground is not running")
        return emulator

    def _where(self, chat_id: int, thread: int | None) -> None:
        chat = self.playground.chat(chat_id)
        if chat.type == "channel":
            raise PlaygroundError("only the bot posts in the channel")
        if thread is not None and thread not in dict(chat.topics):
            raise PlaygroundError(f"no such topic in {chat.title}: {thread}")

    async def ask(
        self, chat_id: int, thread: int | None, text: str, offset: str, language: str
    ) -> JSONDict:
        """Type ``@bot text`` in a chat (asking for the page at ``offset``, the previous
        answer's ``next_offset``) and return what the page shows above the composer."""
        emulator = self._emulator()
        self._where(chat_id, thread)
        if len(text) > MAX_QUERY_LENGTH:
            raise PlaygroundError(f"an inline query is at most {MAX_QUERY_LENGTH} characters")
        bot = str(emulator.bot_user.get("username", ""))
        shown: JSONDict = {"bot": bot, "query": None, "results": [], "next_offset": ""}
        if not emulator.inline_mode:
            note = f"@{bot} has no inline mode (its owner turns it on with @BotFather /setinline)"
            return {**shown, "note": note}
        if self._waiting >= MAX_WAITING:
            raise PlaygroundError("too many inline queries are waiting for the bot", 429)
        query_id = emulator.inline_query(
            text, user_id=USER_ID, chat_id=chat_id, offset=offset, language_code=language
        )
        # No await since the query was typed: the bot's answer, reported on this loop,
        # cannot come before the query is remembered.
        asked = _Asked(chat_id, thread, asyncio.get_running_loop().create_future())
        self._asked[query_id] = asked
        while len(self._asked) > REMEMBERED:
            self._asked.popitem(last=False)
        timeout = emulator.limits.inline_answer_timeout
        self._waiting += 1
        try:
            status, description = await asyncio.wait_for(
                asyncio.shield(asked.answered), timeout + GRACE
            )
        except TimeoutError:
            self._asked.pop(query_id, None)
            return {**shown, "note": f"@{bot} did not answer within {timeout:g} s"}
        finally:
            self._waiting -= 1
        answer = emulator.inline_answer(query_id)
        if status != 200 or answer is None:
            self._asked.pop(query_id, None)
            return {**shown, "note": f"Telegram refused the bot's answer: {description}"}
        results = [shown_result(r) for r in answer.results if isinstance(r, Mapping)]
        return {**shown, "query": query_id, "results": results, "next_offset": answer.next_offset}

    def choose(self, query_id: str, result_id: str) -> LoggedMessage:
        """Send result ``result_id`` of query ``query_id`` (one this picker asked, not yet
        chosen from) into the query's chat, as the user, via the bot."""
        emulator = self._emulator()
        asked = self._asked.get(query_id)
        if asked is None or not asked.answered.done():
            raise PlaygroundError("no such inline query (each can be chosen from once)")
        try:
            message = emulator.choose_inline_result(query_id, result_id, thread_id=asked.thread)
        except ValueError:
            raise PlaygroundError("the bot's answer has no such result to send") from None
        del self._asked[query_id]
        return self.playground.log.user_message(message, "You")
