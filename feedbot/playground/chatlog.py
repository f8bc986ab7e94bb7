"""What the playground's chats show: messages by chat and topic, and a live event stream.

The Bot API emulator tells `ChatLog.observe` about every call the bot made and how
Telegram answered it (from the emulator's own thread, see `feedbot.playground.observed`);
the simulated user's messages (those sent via the bot too) come in through
`ChatLog.user_message`. Everything
here runs on the daemon's event loop, so it needs no lock. Each page that listens
gets a bounded queue of events; a page too slow to keep up is dropped (it reloads
the list and listens again).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChatLog", "Event", "LoggedMessage"]

JSONDict = dict[str, Any]

MESSAGES_PER_CHAT = 500  # the oldest are forgotten beyond this
QUEUE_SIZE = 256  # events buffered per listening page
MAX_LISTENERS = 16
# Calls whose refusal the page shows: what the bot posts, edits, deletes or answers.
SHOWN_METHODS = ("send", "edit", "delete", "answer", "pin", "copy", "forward")


@dataclass
class LoggedMessage:
    """One message as the page draws it."""

    chat: int
    id: int
    thread: int | None
    sender: str  # "bot" or "user"
    author: str
    text: str
    entities: list[JSONDict]
    keyboard: list[list[JSONDict]] = field(default_factory=list)
    date: int = 0
    edited: bool = False
    deleted: bool = False
    via: str = ""  # the username of the bot it was sent via (inline mode), else ""

    def to_json(self) -> JSONDict:
        return {
            "chat": self.chat,
            "id": self.id,
            "thread": self.thread,
            "from": self.sender,
            "author": self.author,
            "text": self.text,
            "entities": self.entities,
            "keyboard": self.keyboard,
            "date": self.date,
            "edited": self.edited,
            "deleted": self.deleted,
            "via": self.via,
        }


@dataclass(frozen=True)
class Event:
    """One server-sent event: its sequence number, type and JSON data."""

    id: int
    type: str
    data: JSONDict


def keyboard_of(markup: Any) -> list[list[JSONDict]]:
    """An inline keyboard's rows as ``{text, data}`` / ``{text, url}`` buttons; else none."""
    if not isinstance(markup, Mapping):
        return []
    rows = markup.get("inline_keyboard")
    if not isinstance(rows, list):
        return []
    keyboard: list[list[JSONDict]] = []
    for row in rows:
        if not isinstance(row, list):
            continue
        buttons = []
        for b in row:
            if isinstance(b, Mapping) and isinstance(b.get("text"), str):
                button: JSONDict = {"text": b["text"]}
                for key in ("callback_data", "url"):
                    if isinstance(b.get(key), str):
                        button["data" if key == "callback_data" else "url"] = b[key]
                buttons.append(button)
        keyboard.append(buttons)
    return keyboard


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ChatLog:
    """The playground's messages and the pages listening for changes."""

    def __init__(self, aliases: Mapping[str, int] | None = None) -> None:
        self.aliases = {k.lower(): v for k, v in (aliases or {}).items()}  # @username → chat id
        self._chats: dict[int, OrderedDict[int, LoggedMessage]] = {}
        self._listeners: set[asyncio.Queue[Event | None]] = set()
        self._ids = itertools.count(1)
        self.refusals = 0

    # --- reading ------------------------------------------------------------------------------

    def messages(self, chat: int, thread: int | None = None) -> list[LoggedMessage]:
        """The messages of a chat, or of one forum topic (``thread``; None: the General topic)."""
        found = self._chats.get(chat, OrderedDict()).values()
        return [m for m in found if m.thread == thread]

    def get(self, chat: int, message_id: int) -> LoggedMessage | None:
        return self._chats.get(chat, OrderedDict()).get(message_id)

    # --- listening ----------------------------------------------------------------------------

    def listen(self) -> asyncio.Queue[Event | None] | None:
        """A queue of the events from now on (None when too many pages listen)."""
        if len(self._listeners) >= MAX_LISTENERS:
            return None
        queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[Event | None]) -> None:
        self._listeners.discard(queue)

    def close(self) -> None:
        """End every stream (a None in each queue)."""
        for queue in list(self._listeners):
            self._drop(queue)

    def _drop(self, queue: asyncio.Queue[Event | None]) -> None:
        self._listeners.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def publish(self, type: str, data: JSONDict) -> None:
        event = Event(next(self._ids), type, data)
        for queue in list(self._listeners):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                self._drop(queue)

    # --- writing ------------------------------------------------------------------------------

    def _store(self, message: LoggedMessage) -> None:
        chat = self._chats.setdefault(message.chat, OrderedDict())
        chat[message.id] = message
        while len(chat) > MESSAGES_PER_CHAT:
            chat.popitem(last=False)
        self.publish("message", message.to_json())

    def user_message(self, message: JSONDict, author: str) -> LoggedMessage:
        """Record a message the simulated user sent (the update's ``message`` object)."""
        logged = LoggedMessage(
            chat=int(message["chat"]["id"]),
            id=int(message["message_id"]),
            thread=message.get("message_thread_id") if message.get("is_topic_message") else None,
            sender="user",
            author=author,
            text=str(message.get("text", "")),
            entities=list(message.get("entities", [])),
            date=int(message.get("date", 0)),
            via=str((message.get("via_bot") or {}).get("username") or ""),
        )
        self._store(logged)
        return logged

    def _chat_id(self, value: Any) -> int | None:
        if isinstance(value, str) and value.startswith("@"):
            return self.aliases.get(value[1:].lower())
        return _int(value)

    def observe(
        self, method: str, params: JSONDict, result: Any, status: int, description: str
    ) -> None:
        """The bot called ``method``; Telegram answered ``result`` (status 200) or refused."""
        chat = self._chat_id(params.get("chat_id"))
        if status != 200:
            if method.startswith(SHOWN_METHODS):
                self.refusals += 1
                text = params.get("text")
                self.publish(
                    "refused",
                    {
                        "chat": chat,
                        "thread": _int(params.get("message_thread_id")),
                        "method": method,
                        "status": status,
                        "description": description,
                        "text": text[:500] if isinstance(text, str) else None,
                    },
                )
            return
        if method == "answercallbackquery":
            text = params.get("text")
            if isinstance(text, str) and text:
                self.publish(
                    "answer", {"text": text[:200], "alert": bool(params.get("show_alert"))}
                )
            return
        if method == "deletemessage":
            found = self.get(chat, _int(params.get("message_id")) or 0) if chat else None
            if found is not None:
                found.deleted, found.text, found.entities, found.keyboard = True, "", [], []
                self.publish("delete", {"chat": found.chat, "id": found.id})
            return
        if not isinstance(result, Mapping) or "message_id" not in result:
            return
        chat = int(result["chat"]["id"])
        message_id = int(result["message_id"])
        keyboard = keyboard_of(params.get("reply_markup"))
        if method.startswith("edit"):
            found = self.get(chat, message_id)
            if found is None:
                return
            if "text" in result:
                found.text, found.entities = str(result["text"]), list(result.get("entities", []))
            found.keyboard, found.edited = keyboard, True
            self.publish("edit", found.to_json())
            return
        if "text" not in result:
            return  # photos, stickers …: not drawn
        thread = _int(params.get("message_thread_id"))
        self._store(
            LoggedMessage(
                chat=chat,
                id=message_id,
                thread=thread,
                sender="bot",
                author=str((result.get("from") or result["chat"]).get("first_name") or "")
                or str(result["chat"].get("title", "")),
                text=str(result["text"]),
                entities=list(result.get("entities", [])),
                keyboard=keyboard,
                date=int(result.get("date", 0)),
            )
        )
