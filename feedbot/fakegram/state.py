"""What the Bot API emulator remembers, and the helpers every part of it shares.

`EmulatorState` declares the server's state (`FakeBotAPI.__init__` sets it) and holds
what the handlers and the control side both need: the chats (known, blocked, migrated,
their members; getChat and getChatMember answer from them), the record of every
attempt, and waking the long polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from feedbot.fakegram.forums import ForumTopics
from feedbot.fakegram.records import (
    REQUEST_REPLICA,
    ErrorReply,
    FakeLimits,
    JSONDict,
    RequestRecord,
    RetryWindow,
    Sent,
    member_object,
)

__all__ = ["EmulatorState"]


class EmulatorState(ForumTopics):
    """The state `FakeBotAPI` keeps and the helpers shared by its parts (a base class)."""

    wall_clock: Callable[[], float]
    limits: FakeLimits
    strict_chats: bool
    bot_user: JSONDict
    _lock: threading.RLock
    _rng: random.Random
    latency: float
    _chats: dict[int | str, JSONDict]
    _usernames: dict[str, int]
    _blocked: set[int | str]
    _migrated: dict[int | str, int]
    _members: dict[tuple[int | str, int], str]
    _updates: list[JSONDict]
    _update_ids: itertools.count[int]
    _polls: int
    _message_ids: dict[int | str, itertools.count[int]]
    _texts: dict[tuple[int | str, int], str]
    _markups: dict[tuple[int | str, int], Any]
    _sent_at: dict[tuple[int | str, int], float]
    _global: deque[float]
    _per_chat: dict[int | str, deque[float]]
    attempts: list[Sent]
    requests: list[RequestRecord]
    retry_windows: list[RetryWindow]
    commands: dict[tuple[str, str], list[JSONDict]]
    callback_answers: list[JSONDict]
    webhook: JSONDict
    _allowed_updates: list[str] | None  # as the bot last set them (None: never)
    _loop: asyncio.AbstractEventLoop | None
    _wake: asyncio.Event | None
    _closing: bool

    # ----------------------------------------------------------------- chats

    def add_chat(
        self, chat_id: int, type: str | None = None, *, title: str = "", username: str = ""
    ) -> JSONDict:
        """Make a chat known (needed with ``strict_chats``); the type follows from the id."""
        chat = self._chat_object(chat_id, type, title=title, username=username)
        with self._lock:
            self._chats[chat_id] = chat
            if username:
                self._usernames[username.lower()] = chat_id
        return chat

    @staticmethod
    def _chat_object(
        chat_id: int, type: str | None = None, *, title: str = "", username: str = ""
    ) -> JSONDict:
        """A Chat object as `add_chat` makes it, without making the chat known."""
        if type is None:
            type = "private" if chat_id > 0 else ("supergroup" if chat_id < -(10**12) else "group")
        chat: JSONDict = {"id": chat_id, "type": type}
        if type == "private":
            chat["first_name"] = title or f"User {chat_id}"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        if username:
            chat["username"] = username
        return chat

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot (or kicked it from the group): sends get 403."""
        with self._lock:
            self._blocked.add(chat_id)

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: sends to the old id get 400 with migrate_to_chat_id."""
        with self._lock:
            self._migrated[chat_id] = new_chat_id
        self.add_chat(new_chat_id, "supergroup")

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """getChatMember's answer: creator, administrator, member, left, kicked."""
        with self._lock:
            self._members[(chat_id, user_id)] = status

    def _user(self, user_id: int, language_code: str | None) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def chat(self, chat_id: int, type: str | None = None) -> JSONDict:
        """The Chat object an update from ``chat_id`` carries; a chat not known yet (or
        known with another ``type``) is added first, as `add_chat` does."""
        with self._lock:
            known = self._chats.get(chat_id)
        return known if known and type in (None, known["type"]) else self.add_chat(chat_id, type)

    def next_message_id(self, chat_id: int | str) -> int:
        """Take the chat's next message id (the users' messages and the bot's share one count)."""
        with self._lock:
            return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def _resolve(self, chat: Any) -> JSONDict:
        """The chat object for a chat_id parameter, or 400 chat not found."""
        if chat is None or chat == "":
            raise ErrorReply(400, "Bad Request: chat_id is empty")
        with self._lock:
            if isinstance(chat, str) and chat.startswith("@"):
                found = self._usernames.get(chat[1:].lower())
                if found is None:
                    raise ErrorReply(400, "Bad Request: chat not found")
                chat = found
            if chat in self._migrated:
                raise ErrorReply(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self._migrated[chat]},
                )
            known = self._chats.get(chat)
        if known is None:
            if self.strict_chats or not isinstance(chat, int):
                raise ErrorReply(400, "Bad Request: chat not found")
            known = self.add_chat(chat)
        return known

    @staticmethod
    def _forbidden(chat: JSONDict) -> str:
        if chat["type"] == "private":
            return "Forbidden: bot was blocked by the user"
        if chat["type"] == "channel":
            return "Forbidden: bot is not a member of the channel chat"
        return f"Forbidden: bot was kicked from the {chat['type']} chat"

    async def _get_chat_member(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        chat = self._resolve(params.get("chat_id"))
        user_id = int(params.get("user_id") or 0)
        with self._lock:
            status = self._members.get((chat["id"], user_id))
        if status is None:
            status = "member" if chat["type"] != "private" or user_id == chat["id"] else "left"
        return member_object(self._user(user_id, None), status)

    async def _get_chat(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        chat = self._resolve(params.get("chat_id"))
        gifts = (
            "unlimited_gifts limited_gifts unique_gifts premium_subscription gifts_from_channels"
        )
        extra = {"accent_color_id": 0, "max_reaction_count": 11}
        return {**chat, **extra, "accepted_gift_types": {g: True for g in gifts.split()}}

    # ----------------------------------------------------------------- shared bookkeeping

    def _remember_allowed_updates(self, params: JSONDict) -> None:
        """getUpdates and setWebhook: an ``allowed_updates`` given stays until the next one."""
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            with self._lock:
                self._allowed_updates = [str(kind) for kind in allowed]

    def _wants(self, kind: str) -> bool:
        """Whether the bot receives updates of ``kind`` (Bot API "getUpdates": an empty or
        never given ``allowed_updates`` means all but chat_member and the reactions)."""
        with self._lock:
            allowed = self._allowed_updates
        if not allowed:
            return kind not in ("chat_member", "message_reaction", "message_reaction_count")
        return kind in allowed

    def _record(
        self, method: str, params: JSONDict, chat_id: Any, now: float, outcome: str, desc: str
    ) -> Sent:
        sent = Sent(
            method,
            chat_id,
            str(params.get("text", "")),
            params.get("parse_mode"),
            now,
            outcome,
            desc,
            params=params,
            replica=REQUEST_REPLICA.get(),
        )
        with self._lock:
            self.attempts.append(sent)
        return sent

    def _wake_all(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        old, self._wake = self._wake, asyncio.Event()
        if old is not None:
            old.set()

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._closing and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
