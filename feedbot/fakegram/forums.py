"""Forum supergroups for the fake Bot API (`feedbot.fakegram`): topics, and how
Telegram answers a message sent to one (the behaviours and their sources:
docs/telegram-emulator.md, "Forum topics").

- A message in a topic carries ``message_thread_id`` and ``is_topic_message``; one the
  bot sends to the General topic carries neither (on Telegram a reply in General carries
  the id without ``is_topic_message``: not modelled here).
- Sending with ``message_thread_id`` 1 (General), an unknown or deleted topic answers
  ``Bad Request: message thread not found``; a closed topic ``Bad Request: TOPIC_CLOSED``.
- Every accepted message remembers its topic, so a button pressed under it arrives
  with the message's ``message_thread_id`` as Telegram sends it.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["ForumTopics"]

JSONDict = dict[str, Any]


class ForumTopics:
    """The forum side of `FakeBotAPI` (a mixin: it shares the server's lock)."""

    _lock: threading.RLock
    _chats: dict[int | str, JSONDict]
    _topics: dict[int | str, dict[int, str]]  # chat -> topic id -> "open" | "closed"
    _message_threads: dict[tuple[int | str, int], int]  # (chat, message id) -> topic

    def _forum_state(self) -> dict[int | str, dict[int, str]]:
        if not hasattr(self, "_topics"):  # set up on first use: the server's __init__ stays
            self._topics, self._message_threads = {}, {}
        return self._topics

    def add_forum(self, chat_id: int, *, title: str = "") -> JSONDict:
        """A supergroup with topics enabled."""
        chat: JSONDict = {
            "id": chat_id,
            "type": "supergroup",
            "title": title or f"Forum {chat_id}",
            "is_forum": True,
        }
        with self._lock:
            self._chats[chat_id] = chat
            self._forum_state().setdefault(chat_id, {})
        return chat

    def add_topic(self, chat_id: int, thread_id: int) -> None:
        """Open a topic (its id is the id of the message that created it)."""
        with self._lock:
            self._forum_state().setdefault(chat_id, {})[thread_id] = "open"

    def close_topic(self, chat_id: int, thread_id: int) -> None:
        with self._lock:
            self._forum_state().setdefault(chat_id, {})[thread_id] = "closed"

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        with self._lock:
            self._forum_state().setdefault(chat_id, {}).pop(thread_id, None)

    def thread_error(self, chat: JSONDict, params: JSONDict) -> str | None:
        """Telegram's 400 description for the ``message_thread_id`` of a send, or None."""
        raw = params.get("message_thread_id")
        if raw in (None, "", 0, "0"):
            return None
        thread = int(raw)
        with self._lock:
            topics = self._forum_state().get(chat["id"])
            state = None if topics is None else topics.get(thread)
        if not chat.get("is_forum") or state is None:
            return "Bad Request: message thread not found"
        if state == "closed":
            return "Bad Request: TOPIC_CLOSED"
        return None

    def mark_thread(self, message: JSONDict, params: JSONDict) -> None:
        """A sent message: remember its topic and show it as Telegram does."""
        raw = params.get("message_thread_id")
        if raw in (None, "", 0, "0"):
            return
        thread = int(raw)
        message["message_thread_id"] = thread
        message["is_topic_message"] = True
        with self._lock:
            self._forum_state()
            self._message_threads[(message["chat"]["id"], int(message["message_id"]))] = thread

    def thread_of_message(self, chat_id: int | str, message_id: int) -> int | None:
        """The topic a message the bot sent is in (None: General, or not a forum)."""
        with self._lock:
            self._forum_state()
            return self._message_threads.get((chat_id, message_id))

    @staticmethod
    def in_topic(message: JSONDict, thread_id: int | None) -> JSONDict:
        """``message`` as sent inside topic ``thread_id`` (unchanged for None)."""
        if thread_id:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        return message
