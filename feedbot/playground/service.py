"""The playground as a daemon component: the real bot, an emulated Telegram, its own database.

`Playground.start` starts the Bot API emulator on 127.0.0.1 (a fresh random token
it alone accepts), opens a fresh ``playground.sqlite3`` beside the real database,
indexes the same folder into it, and starts the production `TelegramService` —
the same `Application`, handlers, ledger, sender and limiter — with its
``api_base_url`` pointed at the emulator. Nothing it does can reach Telegram or
touch the real database. The simulated user acts through `send`, `press` and
`set_role`; what the chats show is in `log` (a `ChatLog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from starlette.routing import BaseRoute

from feedbot.cluster.leader import Leadership
from feedbot.config import Settings
from feedbot.errors import FeedbotError
from feedbot.ingest.scan import Indexer
from feedbot.playground.chatlog import ChatLog, LoggedMessage
from feedbot.runtime.health import failure_kind
from feedbot.runtime.publishing import publishing_from
from feedbot.store import Store
from feedbot.telegram.render.messages import utf16_len

if TYPE_CHECKING:
    from feedbot.playground.observed import ObservedBotAPI
    from feedbot.telegram.service import TelegramService

__all__ = ["USER_ID", "Playground", "PlaygroundChat", "PlaygroundError"]

log = logging.getLogger("feedbot.playground")

PATH = "/playground/"
USER_ID = 7001  # the simulated user; its private chat has the same id
BOT_USERNAME = "feedbot_playground_bot"
DEFAULT_CHANNEL = "@feedbot_playground"


class PlaygroundError(FeedbotError):
    """A request the playground refuses; the message says why (shown to the page)."""


@dataclass(frozen=True)
class PlaygroundChat:
    """One chat of the chat list."""

    id: int
    type: str  # private, supergroup, channel
    title: str
    topics: tuple[tuple[int, str], ...] = ()  # forum topics: (message_thread_id, name)
    username: str = ""

    @property
    def forum(self) -> bool:
        return bool(self.topics)


def playground_chats(settings: Settings) -> tuple[PlaygroundChat, ...]:
    """The private chat, the group, the forum with two topics, and the configured channel."""
    configured = settings.telegram.channels[0] if settings.telegram.channels else DEFAULT_CHANNEL
    channel_id, username = -1001000000103, ""
    if configured.lstrip("-").isdigit():
        channel_id = int(configured)
    else:
        username = configured.removeprefix("@")
    return (
        PlaygroundChat(USER_ID, "private", settings.feed.title),
        PlaygroundChat(-1001000000101, "supergroup", "Playground group"),
        PlaygroundChat(
            -1001000000102, "supergroup", "Playground forum", ((2, "News"), (3, "Chat"))
        ),
        PlaygroundChat(channel_id, "channel", username or f"Channel {channel_id}", (), username),
    )


def database_path(settings: Settings) -> Path:
    """``playground.sqlite3`` beside the real SQLite file (``storage.path``)."""
    return settings.storage.path.parent / "playground.sqlite3"


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


class Playground:
    """The playground component (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        from feedbot.playground.app import playground_routes

        self.settings = settings
        self.chats = playground_chats(settings)
        channels = settings.telegram.channels
        self.channel: str = channels[0] if channels else DEFAULT_CHANNEL
        aliases = {c.username: c.id for c in self.chats if c.username}
        self.log = ChatLog(aliases)
        self.path = database_path(settings)
        self.roles = {c.id: "administrator" for c in self.chats if c.type == "supergroup"}
        self.running = False
        self.problem: str | None = None
        self.emulator: ObservedBotAPI | None = None
        self.bot: TelegramService | None = None
        self.store: Store | None = None
        self.indexer: Indexer | None = None
        self._scan_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recheck: asyncio.TimerHandle | None = None
        self._held: Callable[[], Collection[str]] = tuple  # files open in their writer
        self._routes = playground_routes(self)

    # --- the component ------------------------------------------------------------------------

    @property
    def routes(self) -> list[BaseRoute]:
        return self._routes

    @property
    def pages(self) -> dict[str, str]:
        """Pages to name in the start-up line: name → path."""
        return {"playground": PATH}

    def health(self) -> dict[str, Any]:
        return {"playground": {"running": self.running, "problem": self.problem}}

    def down(self) -> str | None:
        """Never: a playground that fails leaves the daemon healthy without it."""
        return None

    async def lead(self, leadership: Leadership) -> None:
        """The playground runs whatever the deployment's role (it only runs on SQLite)."""
        return None

    def skip_open_writes(self, held: Callable[[], Collection[str]]) -> None:
        """Leave unread the files ``held()`` names, as the daemon's scan does."""
        self._held = held

    async def stop_leading(self) -> None:
        return None

    def reconfigure(self, settings: Settings) -> None:
        """SIGHUP: the playground's bot takes the new rate limits, as a real one would."""
        if self.bot is not None:
            self.bot.reconfigure(settings)

    async def start(self) -> None:
        """Start everything; a failure is logged and leaves the daemon running without it."""
        try:
            await self._start()
        except Exception as e:
            self.problem = failure_kind(e)  # /healthz; the detail is in the log
            log.error("the playground could not start: %s: %s", type(e).__name__, e)
            await self.stop()

    async def _start(self) -> None:
        from feedbot.playground.observed import ObservedBotAPI
        from feedbot.telegram.assemble import build_service

        await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(_remove_database, self.path)
        self.store = store = await asyncio.to_thread(Store.open, self.path)
        token = f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(27)}"
        emulator = ObservedBotAPI(
            token, self.log.observe, asyncio.get_running_loop(), bot_username=BOT_USERNAME
        )
        emulator.bot_user["first_name"] = self.settings.feed.title
        await asyncio.to_thread(emulator.start_in_thread)
        self.emulator = emulator
        if not emulator.base_url.startswith("http://127.0.0.1:"):
            raise FeedbotError(f"the emulator is not on 127.0.0.1: {emulator.base_url}")
        for chat in self.chats:
            if chat.forum:
                emulator.add_forum(chat.id, title=chat.title)
                for topic, _ in chat.topics:
                    emulator.add_topic(chat.id, topic)
            else:
                emulator.add_chat(chat.id, chat.type, title=chat.title, username=chat.username)
        for chat_id, role in self.roles.items():
            emulator.set_member(chat_id, USER_ID, role)
        tg = self.settings.telegram.model_copy(
            update={
                "token": SecretStr(token),
                "api_base_url": emulator.base_url,
                "mode": "polling",
                "webhook_url": None,
                "channels": [self.channel],
                "admins": [USER_ID],
            }
        )
        settings = self.settings.model_copy(update={"telegram": tg})
        index = settings.index
        self.indexer = await store.db.call(
            lambda: Indexer(
                index.path,
                store.articles,
                max_bytes=index.max_file_bytes,
                settle_ms=index.settle_ms,
                channels=[self.channel],
                follow_symlinks=index.follow_symlinks,
                report_bad=False,  # the daemon's own indexer reports them
                publishing=publishing_from(settings),  # corrections and the delay, as configured
            )
        )
        await self._scan()
        self.bot = build_service(settings, store)
        await self.bot.start()
        await self.bot.lead()  # its own SQLite database: always the only replica
        self.running = self.bot.running
        if not self.running:
            raise FeedbotError("the bot did not connect to the emulator")

    async def stop(self) -> None:
        self.running = False
        self.log.close()
        if self._recheck is not None:
            self._recheck.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.bot is not None:
            bot, self.bot = self.bot, None
            await bot.stop()
        if self.emulator is not None:
            emulator, self.emulator = self.emulator, None
            await asyncio.to_thread(emulator.stop_thread)
        if self.store is not None:
            store, self.store = self.store, None
            await asyncio.to_thread(store.close)

    def wake(self, changed: Collection[str] = ()) -> None:
        """The index changed: scan it into the playground's database, then send and edit."""
        if not self.running:
            return
        task = asyncio.ensure_future(self._scan())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _scan(self) -> None:
        indexer, store = self.indexer, self.store
        if indexer is None or store is None:
            return
        async with self._scan_lock:
            writing = self._held()
            try:
                report = await store.db.call(lambda: indexer.scan(writing=writing))
            except (OSError, FeedbotError) as e:  # the next change scans again
                log.warning("playground: scan failed: %s", e)
                return
        if (report.created or report.changed or report.removed) and self.bot is not None:
            self.bot.wake((*report.changed, *report.removed))
        if report.recheck_in is not None and self.running:  # a file still being written
            if self._recheck is not None:
                self._recheck.cancel()
            self._recheck = asyncio.get_running_loop().call_later(
                report.recheck_in + 0.05, self.wake
            )

    # --- the simulated user -------------------------------------------------------------------

    def chat(self, chat_id: int) -> PlaygroundChat:
        for chat in self.chats:
            if chat.id == chat_id:
                return chat
        raise PlaygroundError(f"no such chat: {chat_id}")

    def _emulator(self) -> ObservedBotAPI:
        if self.emulator is None or not self.running:
            raise PlaygroundError("the playground is not running")
        return self.emulator

    def _user(self, language: str) -> dict[str, Any]:
        return {"id": USER_ID, "is_bot": False, "first_name": "You", "language_code": language}

    def send(self, chat_id: int, thread: int | None, text: str, language: str) -> LoggedMessage:
        """The user sends ``text`` in a chat (or forum topic)."""
        emulator, chat = self._emulator(), self.chat(chat_id)
        if chat.type == "channel":
            raise PlaygroundError("only the bot posts in the channel")
        if thread is not None and thread not in dict(chat.topics):
            raise PlaygroundError(f"no such topic in {chat.title}: {thread}")
        if not text.strip():
            raise PlaygroundError("the message is empty")
        if utf16_len(text) > 4096:
            raise PlaygroundError("the message is longer than 4096 characters")
        message: dict[str, Any] = {
            "message_id": emulator.next_message_id(chat_id),
            "date": int(time.time()),
            "chat": emulator.chat(chat_id),
            "from": self._user(language),
            "text": text,
        }
        if thread is not None:
            message.update(message_thread_id=thread, is_topic_message=True)
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        logged = self.log.user_message(message, "You")
        emulator.inject({"message": message})
        return logged

    def press(self, chat_id: int, message_id: int, data: str, language: str) -> None:
        """The user presses the inline button carrying ``data`` under a bot message."""
        emulator = self._emulator()
        self.chat(chat_id)
        found = self.log.get(chat_id, message_id)
        if found is None or found.deleted or found.sender != "bot":
            raise PlaygroundError("no such message")
        if not any(b.get("data") == data for row in found.keyboard for b in row):
            raise PlaygroundError("that message has no such button")
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": found.date,
            "chat": emulator.chat(chat_id),
            "from": emulator.bot_user,
            "text": found.text,
            "entities": found.entities,
        }
        if found.thread is not None:
            message.update(message_thread_id=found.thread, is_topic_message=True)
        query = {
            "id": secrets.token_hex(8),
            "from": self._user(language),
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
        }
        emulator.inject({"callback_query": query})

    def set_role(self, chat_id: int, role: str) -> None:
        """Make the user an administrator or a plain member of a group."""
        emulator, chat = self._emulator(), self.chat(chat_id)
        if (
            chat.type == "private"
            or chat.type == "channel"
            or role not in ("administrator", "member")
        ):
            raise PlaygroundError("roles are for the groups: administrator or member")
        self.roles[chat_id] = role
        emulator.set_member(chat_id, USER_ID, role)
        self.log.publish("role", {"chat": chat_id, "role": role})

    def commands(self, language: str) -> list[dict[str, str]]:
        """The command menu, as getMyCommands answers it for ``language``."""
        emulator = self.emulator
        if emulator is None:
            return []
        found = emulator.command_menu(language) or emulator.command_menu("")
        return [{"command": str(c["command"]), "description": str(c["description"])} for c in found]

    def describe(self) -> Sequence[dict[str, Any]]:
        """The chat list for the page."""
        return [
            {
                "id": c.id,
                "type": c.type,
                "title": c.title,
                "forum": c.forum,
                "topics": [{"id": t, "name": n} for t, n in c.topics],
                "role": self.roles.get(c.id),
            }
            for c in self.chats
        ]
