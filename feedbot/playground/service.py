"""The playground as a daemon component: the real bot, an emulated Telegram, chats of its own.

`Playground.start` opens a fresh ``playground.sqlite3`` beside the real database for
its chats (a `feedbot.store.sidecar.Sidecar`: subscriptions, deliveries, corrections,
digests). Once the daemon's first scan is done (`lead`; at once with replicas) it
starts the Bot API emulator on 127.0.0.1 (a fresh random token it alone accepts) and
the production `TelegramService` — the same `Application`, handlers, ledger, sender
and limiter — with its ``api_base_url`` pointed at the emulator, over the daemon's own
articles, read only. It does not index the folder: it notes what the daemon's store
holds after the first scan, and each time the daemon wakes it (a scan stored, changed,
removed or published articles) it compares and queues what the changes owe its chats
(`feedbot.playground.owed`). Nothing it does can reach Telegram or write the real
chats, ledgers or articles. The simulated user acts through `send`, `press`,
`set_role` and inline mode (`inline`, a `feedbot.playground.inline.InlinePicker`); what
the chats show is in `log` (a `ChatLog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr
from starlette.routing import BaseRoute

from feedbot.cluster.leader import Leadership
from feedbot.config import Settings
from feedbot.errors import FeedbotError, StoreError
from feedbot.playground.chatlog import ChatLog, LoggedMessage
from feedbot.playground.chats import (
    DEFAULT_CHANNEL,
    USER_ID,
    PlaygroundChat,
    PlaygroundError,
    playground_chats,
)
from feedbot.playground.owed import Owed, Snapshot, look
from feedbot.runtime.health import failure_kind
from feedbot.runtime.publishing import publishing_from
from feedbot.store import Store
from feedbot.store.sidecar import Sidecar
from feedbot.telegram.render.messages import utf16_len

if TYPE_CHECKING:
    from feedbot.playground.inline import InlinePicker
    from feedbot.playground.observed import ObservedBotAPI
    from feedbot.telegram.service import TelegramService

__all__ = ["USER_ID", "Playground", "PlaygroundChat", "PlaygroundError"]

log = logging.getLogger("feedbot.playground")

PATH = "/playground/"
BOT_USERNAME = "feedbot_playground_bot"


def database_path(settings: Settings) -> Path:
    """``playground.sqlite3`` beside the real SQLite file (``storage.path``)."""
    return settings.storage.path.parent / "playground.sqlite3"


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()


def _compare(sidecar: Sidecar, before: Snapshot | None) -> tuple[Owed | None, Snapshot]:
    """Read the main store's articles (in the sidecar's database thread): what they owe
    the chats since ``before`` (None: nothing, a first look), and a snapshot of them."""
    with contextlib.closing(sidecar.states()) as rows:  # the read ends with the look
        return look(before, rows)


class Playground:
    """The playground component (see the module docstring)."""

    def __init__(self, settings: Settings, main: Store) -> None:
        from feedbot.playground.app import playground_routes
        from feedbot.playground.inline import InlinePicker

        self.settings = settings
        self.main = main  # the daemon's store: its articles are read, never written
        channels = settings.telegram.channels
        self.channel: str = channels[0] if channels else DEFAULT_CHANNEL
        self.chats = playground_chats(settings.feed.title, self.channel)
        aliases = {c.username: c.id for c in self.chats if c.username}
        self.log = ChatLog(aliases)
        self.path = database_path(settings)
        self.roles = {c.id: "administrator" for c in self.chats if c.type == "supergroup"}
        self.running = False
        self.problem: str | None = None
        self.emulator: ObservedBotAPI | None = None
        self.bot: TelegramService | None = None
        self.sidecar: Sidecar | None = None
        self._seen: Snapshot | None = None  # the articles at the last look
        self._seen_version = -1  # the main store's article version before that look
        self._look_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.inline: InlinePicker = InlinePicker(self)
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

    @property
    def store(self) -> Store | None:
        """The playground's own store (its chats and ledgers), while it runs."""
        return None if self.sidecar is None else self.sidecar.store

    async def lead(self, leadership: Leadership) -> None:
        """The daemon's first scan is done: what the store holds now is the playground's
        starting point (a fresh bot posts what arrives after it started); start the bot if
        it waited for that, then catch up with what came meanwhile (or while following)."""
        if self._seen is None:
            await self._look(baseline=True)
        if self.sidecar is not None and self.bot is None:
            await self._guarded(self._start_bot)
        await self._look()

    async def stop_leading(self) -> None:
        return None

    def reconfigure(self, settings: Settings) -> None:
        """SIGHUP: the playground's bot takes the new rate limits, as a real one would."""
        if self.bot is not None:
            self.bot.reconfigure(settings)

    async def start(self) -> None:
        """Open a fresh store for the chats. With a SQLite store this daemon leads as soon
        as its first scan is done, and the bot starts then (`lead`): the first scan does
        not wait for it. With replicas (PostgreSQL) the bot starts now, as this replica
        may only follow. A failure is logged and leaves the daemon running without it."""
        await self._guarded(self._open)
        if self.sidecar is not None and self.main.db.dialect != "sqlite":
            await self._guarded(self._start_bot)

    async def _guarded(self, step: Callable[[], Awaitable[None]]) -> None:
        try:
            await step()
        except Exception as e:
            self.problem = failure_kind(e)  # /healthz; the detail is in the log
            log.error("the playground could not start: %s: %s", type(e).__name__, e)
            await self.stop()

    async def _open(self) -> None:
        await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(_remove_database, self.path)
        self.sidecar = await asyncio.to_thread(Sidecar.open, self.path, self.main)
        self._seen = None

    async def _start_bot(self) -> None:
        from feedbot.playground.observed import ObservedBotAPI
        from feedbot.telegram.assemble import build_service

        assert self.sidecar is not None
        token = f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(27)}"
        emulator = ObservedBotAPI(
            token, self._observe, asyncio.get_running_loop(), bot_username=BOT_USERNAME
        )
        emulator.bot_user["first_name"] = self.settings.feed.title
        emulator.set_inline()  # as the owner of a bot that answers inline queries would
        emulator.set_inline_feedback()
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
        self.bot = build_service(settings, self.sidecar.store)
        await self.bot.start()
        await self.bot.lead()  # its own SQLite database: always the only replica
        self.running = self.bot.running
        if not self.running:
            raise FeedbotError("the bot did not connect to the emulator")

    def _observe(self, method: str, params: dict[str, Any], *answer: Any) -> None:
        """A call the bot made and Telegram's answer (on the loop): for the chats and inline."""
        self.log.observe(method, params, *answer)
        self.inline.observe(method, params, *answer)

    async def stop(self) -> None:
        self.running = False
        self.log.close()
        for task in list(self._tasks):
            task.cancel()
        if self.bot is not None:
            bot, self.bot = self.bot, None
            await bot.stop()
        if self.emulator is not None:
            emulator, self.emulator = self.emulator, None
            await asyncio.to_thread(emulator.stop_thread)
        if self.sidecar is not None:
            sidecar, self.sidecar = self.sidecar, None
            await asyncio.to_thread(sidecar.close)

    def wake(self, changed: Collection[str] = ()) -> None:
        """The daemon's articles changed: queue what that owes the chats, then send and edit."""
        if not self.running or self._seen is None:
            return  # before the first scan is done, `lead` looks
        task = asyncio.ensure_future(self._look())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _look(self, *, baseline: bool = False) -> None:
        """Compare the daemon's articles with the last look and queue what that owes the
        chats (`owed`; with ``baseline``, nothing: only remember them)."""
        sidecar = self.sidecar
        if sidecar is None:
            return
        async with self._look_lock:
            # Read before the rows: a change committed meanwhile moves it again, looked at next.
            version = self.main.articles.version
            if not baseline and self._seen is not None and version == self._seen_version:
                return  # nothing changed since: no second copy of every article's state
            try:
                due, now_seen = await sidecar.store.db.call(
                    _compare, sidecar, None if baseline else self._seen
                )
                if due:
                    await sidecar.store.db.call(
                        sidecar.take_in,
                        due.posts,
                        due.changed,
                        due.gone,
                        datetime.now(UTC),
                        replace(publishing_from(self.settings.telegram), channels=(self.channel,)),
                    )
                self._seen, self._seen_version = now_seen, version
            except StoreError as e:  # the next wake looks again
                log.warning("playground: cannot read the articles: %s", e)
                return
        if due and self.bot is not None:
            self.bot.wake((*due.changed, *due.gone))

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
