"""Inline mode for the Bot API emulator: a user types ``@bot words`` in any chat, the bot
answers with answerInlineQuery, the user chooses a result and it is sent into that chat
"via @bot" (what it copies, with the sources: docs/telegram-emulator.md, "Inline mode").

- Off until turned on (`set_inline`, as @BotFather ``/setinline``); ``getMe`` reports it in
  ``supports_inline_queries``. ``chosen_inline_result`` updates need the second switch
  (`set_inline_feedback`, ``/setinlinefeedback``). Both kinds of update come only when the
  bot's ``allowed_updates`` (if it set any) ask for them.
- answerInlineQuery refuses what the Bot API server refuses: an unknown, already answered
  or too old query (`FakeLimits.inline_answer_timeout`), more than 50 results, a result id
  empty, over 64 bytes or repeated, a ``next_offset`` over 64 bytes, an article without
  ``title`` or ``input_message_content``, and a ``message_text`` sendMessage would refuse
  (`feedbot.fakegram.messages.check_text`).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from feedbot.fakegram.forums import ForumTopics
from feedbot.fakegram.messages import check_text
from feedbot.fakegram.records import ErrorReply, FakeLimits, InlineAnswer, JSONDict
from feedbot.fakegram.updates import UpdateHandlers

__all__ = ["MAX_INLINE_RESULTS", "MAX_QUERY_LENGTH", "InlineHandlers"]

MAX_QUERY_LENGTH = 256  # characters of InlineQuery.query
MAX_INLINE_RESULTS = 50  # results in one answerInlineQuery
MAX_ID_BYTES = 64  # a result's id, and next_offset
TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
CANT_PARSE = "Bad Request: can't parse inline query result: "


@dataclass
class _Query:
    """One inline query a user typed, and what became of it."""

    id: str
    user: JSONDict
    chat: JSONDict
    chat_type: str
    query: str
    offset: str
    time: float  # the emulator's clock when it was typed
    delivered: bool  # False: inline mode off, or not allowed (no answer can come)
    answer: InlineAnswer | None = None


class InlineHandlers(UpdateHandlers):
    """Inline queries, their answers and the chosen results (a mixin of `FakeBotAPI`; its
    updates go the way of every update)."""

    clock: Callable[[], float]
    limits: FakeLimits
    _lock: threading.RLock
    inline_mode: bool  # @BotFather /setinline
    inline_feedback: bool  # @BotFather /setinlinefeedback
    _inline_queries: dict[str, _Query]
    _inline_ids: itertools.count[int]
    _via_bot: list[JSONDict]  # messages users sent via the bot, in order

    # ----------------------------------------------------------------- the owner's switches

    def set_inline(self, enabled: bool = True) -> None:
        """Turn inline mode on (@BotFather ``/setinline``) or off."""
        with self._lock:
            self.inline_mode = enabled

    def set_inline_feedback(self, enabled: bool = True) -> None:
        """Turn inline feedback on (@BotFather ``/setinlinefeedback``): chosen results are
        reported to the bot as ``chosen_inline_result`` updates."""
        with self._lock:
            self.inline_feedback = enabled

    # ----------------------------------------------------------------- what users do

    def inline_query(
        self,
        query: str,
        *,
        user_id: int,
        chat_id: int | None = None,
        chat_type: str | None = None,
        offset: str = "",
        language_code: str | None = "en",
    ) -> str:
        """A user types ``@bot query`` in chat ``chat_id`` (default: their private chat with
        the bot, chat_type "sender"; any chat, the bot need not be in it), asking for the
        page at ``offset``. Queues an ``inline_query`` update when inline mode is on and
        allowed; returns the query's id either way (`inline_answer` reads the answer)."""
        if len(query) > MAX_QUERY_LENGTH:
            raise ValueError(f"an inline query is at most {MAX_QUERY_LENGTH} characters")
        if chat_id is None or chat_id == user_id:
            chat, kind = self.chat(user_id, "private"), "sender"
        else:
            with self._lock:
                known = self._chats.get(chat_id)
            if known is not None and chat_type in (None, known["type"]):
                chat = known
            else:
                chat = self._chat_object(chat_id, chat_type)
            kind = str(chat["type"])
        user = self._user(user_id, language_code)
        with self._lock:  # known before the bot can hear of it, so it can answer at once
            query_id = str(next(self._inline_ids))
            deliver = self.inline_mode and self._wants("inline_query")
            self._inline_queries[query_id] = _Query(
                query_id, user, chat, kind, query, offset, self.clock(), deliver
            )
        if deliver:
            payload = {"id": query_id, "from": user, "query": query, "offset": offset}
            self.inject({"inline_query": {**payload, "chat_type": kind}})
        return query_id

    def choose_inline_result(
        self, query_id: str, result_id: str, *, thread_id: int | None = None
    ) -> JSONDict:
        """The user chooses result ``result_id`` of the bot's answer to ``query_id``: its
        message is sent into the query's chat (into forum topic ``thread_id``, where the
        user typed it) as the user, "via @bot". With inline
        feedback on (and allowed) the bot gets a ``chosen_inline_result`` update; in the
        user's private chat with the bot it gets the message too. Returns the message."""
        with self._lock:
            q = self._inline_queries.get(query_id)
        if q is None or q.answer is None:
            raise ValueError(f"inline query {query_id!r} was not answered")
        result = next((r for r in q.answer.results if str(r.get("id")) == result_id), None)
        content = (result or {}).get("input_message_content") or {}
        if result is None or "message_text" not in content:
            raise ValueError(f"no result {result_id!r} with a text to send in {query_id!r}")
        text, entities = check_text(str(content["message_text"]), content.get("parse_mode"))
        message: JSONDict = {
            "message_id": self.next_message_id(q.chat["id"]),
            "date": int(time.time()),
            "chat": q.chat,
            "from": q.user,
            "via_bot": self.bot_user,
            "text": text,
        }
        if entities:
            message["entities"] = entities
        ForumTopics.in_topic(message, thread_id)
        if result.get("reply_markup"):
            message["reply_markup"] = result["reply_markup"]
        with self._lock:
            self._via_bot.append(message)
            feedback = self.inline_feedback and self._wants("chosen_inline_result")
        if q.chat_type == "sender":
            self.inject({"message": message})
        if feedback:
            chosen: JSONDict = {"result_id": result_id, "from": q.user, "query": q.query}
            if result.get("reply_markup"):
                chosen["inline_message_id"] = f"{query_id}-{result_id}"
            self.inject({"chosen_inline_result": chosen})
        return message

    # ----------------------------------------------------------------- what the bot did

    def inline_answer(self, query_id: str) -> InlineAnswer | None:
        """The bot's accepted answer to an inline query (None: none yet)."""
        with self._lock:
            q = self._inline_queries.get(query_id)
            return None if q is None else q.answer

    def via_bot(self, chat_id: int | str) -> list[JSONDict]:
        """The messages users sent into ``chat_id`` via the bot, in order."""
        with self._lock:
            return [m for m in self._via_bot if m["chat"]["id"] == chat_id]

    # ----------------------------------------------------------------- the handler

    async def _answer_inline_query(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        results = params.get("results")
        if results in (None, ""):
            results = []
        if not isinstance(results, list):
            raise ErrorReply(400, "Bad Request: expected an Array of inline query results")
        if len(results) > MAX_INLINE_RESULTS:
            raise ErrorReply(400, "Bad Request: too many inline query results specified")
        for result in results:
            self._check_result(result)
        ids = [str(r["id"]) for r in results]
        for rid in ids:
            if not rid:
                raise ErrorReply(400, "Bad Request: RESULT_ID_EMPTY")
            if len(rid.encode()) > MAX_ID_BYTES:
                raise ErrorReply(400, "Bad Request: RESULT_ID_INVALID")
        if len(set(ids)) != len(ids):
            raise ErrorReply(400, "Bad Request: RESULT_ID_DUPLICATE")
        if any(str(r["type"]).lower() == "article" and not r["title"] for r in results):
            raise ErrorReply(400, "Bad Request: ARTICLE_TITLE_EMPTY")
        next_offset = str(params.get("next_offset") or "")
        if len(next_offset.encode()) > MAX_ID_BYTES:
            raise ErrorReply(400, "Bad Request: NEXT_OFFSET_INVALID")
        query_id = str(params.get("inline_query_id") or "")
        cache_time = params.get("cache_time")
        button = params.get("button")
        answer = InlineAnswer(
            query_id,
            results,
            next_offset,
            300 if cache_time in (None, "") else int(cache_time),
            params.get("is_personal") in (True, "true"),
            button if isinstance(button, dict) else None,
            now,
        )
        with self._lock:
            q = self._inline_queries.get(query_id)
            timeout = self.limits.inline_answer_timeout
            if q is None or not q.delivered or q.answer is not None or now - q.time > timeout:
                raise ErrorReply(400, TOO_OLD)
            q.answer = answer
        return True

    @staticmethod
    def _check_result(result: Any) -> None:
        """One result as the Bot API server parses it (telegram-bot-api's Client.cpp:
        type, id, the message content, the title), then the text checks of sendMessage."""
        if not isinstance(result, dict):
            raise ErrorReply(400, CANT_PARSE + "Inline query result must be an object")
        for name in ("type", "id"):
            if not isinstance(result.get(name), str | int):
                raise ErrorReply(400, CANT_PARSE + f'Can\'t find field "{name}"')
        article = str(result["type"]).lower() == "article"
        content = result.get("input_message_content")
        if content is None:
            if article and "message_text" not in result:  # the legacy field, still read
                raise ErrorReply(400, CANT_PARSE + 'Can\'t find field "message_text"')
            content = result if "message_text" in result else {}
        if not isinstance(content, dict):
            raise ErrorReply(
                400, CANT_PARSE + 'Field "input_message_content" must be of type Object'
            )
        if article and not content.get("message_text"):
            raise ErrorReply(400, CANT_PARSE + "Input message content is not specified")
        if article and not isinstance(result.get("title"), str):
            raise ErrorReply(400, CANT_PARSE + 'Can\'t find field "title"')
        if content.get("message_text"):
            check_text(str(content["message_text"]), content.get("parse_mode"))
