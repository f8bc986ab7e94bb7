"""The updates side of the Bot API emulator: what users do (commands, button presses,
membership changes) queued as updates, and how the bot receives them (getUpdates long
polls, or a webhook the emulator posts to); also the bot's command menu and its answers
to callback queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx

from feedbot.fakegram.records import ErrorReply, JSONDict, member_object
from feedbot.fakegram.state import EmulatorState
from feedbot.telegram.render.messages import utf16_len

__all__ = ["UpdateHandlers"]


class UpdateHandlers(EmulatorState):
    """Updates in, by long poll or webhook, and the command menu (a mixin of `FakeBotAPI`)."""

    # ----------------------------------------------------------------- what users do

    def inject(self, update: JSONDict) -> int:
        """Queue an update for getUpdates (or the webhook); returns its update_id."""
        with self._lock:
            update = {**update, "update_id": next(self._update_ids)}
            self._updates.append(update)
            for key in ("message", "callback_query", "my_chat_member"):
                chat = (update.get(key) or {}).get("chat")
                chat = chat or ((update.get(key) or {}).get("message") or {}).get("chat")
                if chat and chat["id"] not in self._chats:
                    self._chats[chat["id"]] = chat
        self._wake_all()
        return int(update["update_id"])

    def command(
        self,
        text: str,
        *,
        chat_id: int,
        user_id: int | None = None,
        chat_type: str | None = None,
        language_code: str | None = "en",
        thread_id: int | None = None,
    ) -> int:
        """A user sends ``text`` (e.g. ``/start payload`` or ``/latest@bot 3``) in a chat
        (in forum topic ``thread_id``, if given)."""
        user_id = user_id if user_id is not None else chat_id
        message: JSONDict = {
            "message_id": self.next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self.chat(chat_id, chat_type),
            "from": self._user(user_id, language_code),
            "text": text,
        }
        if text.startswith("/"):
            cmd = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(cmd)}]
        return self.inject({"message": self.in_topic(message, thread_id)})

    def callback(
        self,
        data: str,
        *,
        chat_id: int,
        message_id: int,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> int:
        """A user presses an inline button with callback ``data`` under message ``message_id``."""
        user_id = user_id if user_id is not None else chat_id
        with self._lock:
            text = self._texts.get((chat_id, message_id), "…")
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self.chat(chat_id, None),
            "from": self.bot_user,
            "text": text,
        }
        self.in_topic(message, self.thread_of_message(chat_id, message_id))
        query = {
            "id": str(self._rng.getrandbits(48)),
            "from": self._user(user_id, language_code),
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
        }
        return self.inject({"callback_query": query})

    def chat_member(
        self, *, chat_id: int, old: str, new: str, user_id: int = 1, chat_type: str | None = None
    ) -> int:
        """The bot's own membership changes (``member`` → ``kicked`` when removed)."""
        update = {
            "chat": self.chat(chat_id, chat_type),
            "from": self._user(user_id, None),
            "date": int(time.time()),
            "old_chat_member": member_object(self.bot_user, old),
            "new_chat_member": member_object(self.bot_user, new),
        }
        return self.inject({"my_chat_member": update})

    # ----------------------------------------------------------------- what the bot set

    def command_menu(self, language_code: str = "", scope: str = "default") -> list[JSONDict]:
        """The command menu setMyCommands set for ``scope`` and ``language_code`` ([]: none)."""
        with self._lock:
            return list(self.commands.get((scope, language_code), []))

    # ----------------------------------------------------------------- handlers

    async def _delete_webhook(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        with self._lock:
            self.webhook = {"url": ""}
            if params.get("drop_pending_updates") in (True, "true"):
                self._updates.clear()
        return True

    async def _set_webhook(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        url = str(params.get("url", ""))
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ErrorReply(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        self._remember_allowed_updates(params)
        with self._lock:
            self.webhook = {"url": url, "secret_token": params.get("secret_token")}
        self._wake_all()
        return True

    async def _get_webhook_info(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        with self._lock:
            pending = len(self._updates)
            return {
                "url": self.webhook["url"],
                "has_custom_certificate": False,
                "pending_update_count": pending,
            }

    async def _get_updates(self, params: JSONDict, chat_id: Any, now: float) -> list[JSONDict]:
        if self.webhook["url"]:
            raise ErrorReply(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._remember_allowed_updates(params)
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = now + float(params.get("timeout") or 0)
        # Like Telegram, a second poller ends the long poll already waiting with 409.
        with self._lock:
            self._polls += 1
            mine = self._polls
        self._wake_all()
        while True:
            if self._polls != mine:
                raise ErrorReply(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            wake = self._wake
            with self._lock:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if ready or self._closing or remaining <= 0 or wake is None:
                return ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), remaining)

    async def _push_webhook(self) -> None:
        """Deliver queued updates to the webhook, in order, with its secret token.

        The client is made for the first update to deliver: an httpx client loads the CA
        bundle (~2.5 MB of memory) when it is made, which an emulator whose bot polls for
        its updates (the playground's) never uses."""
        client: httpx.AsyncClient | None = None
        try:
            while not self._closing:
                wake = self._wake
                with self._lock:
                    url, secret = self.webhook["url"], self.webhook.get("secret_token")
                    pending = list(self._updates) if url else []
                if pending and client is None:
                    client = httpx.AsyncClient(timeout=5)
                for update in pending:
                    assert client is not None
                    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                    try:
                        r = await client.post(url, json=update, headers=headers)
                    except httpx.HTTPError:
                        break
                    if r.status_code >= 300:
                        break
                    with self._lock:
                        self._updates = [u for u in self._updates if u is not update]
                if wake is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), 0.5 if pending else 5)
        finally:
            if client is not None:
                await client.aclose()

    async def _set_my_commands(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or not commands:
            raise ErrorReply(400, "Bad Request: commands must be a non-empty array")
        for c in commands:
            name, desc = str(c.get("command", "")), str(c.get("description", ""))
            if not ((1 <= len(name) <= 32 and name.islower()) or name.isdigit()) or not (
                1 <= len(desc) <= 256
            ):
                raise ErrorReply(400, "Bad Request: BOT_COMMAND_INVALID")
        scope = (params.get("scope") or {}).get("type", "default")
        with self._lock:
            self.commands[(scope, str(params.get("language_code") or ""))] = commands
        return True

    async def _get_my_commands(self, params: JSONDict, chat_id: Any, now: float) -> Any:
        scope = (params.get("scope") or {}).get("type", "default")
        with self._lock:
            return self.commands.get((scope, str(params.get("language_code") or "")), [])

    async def _delete_my_commands(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        scope = (params.get("scope") or {}).get("type", "default")
        with self._lock:
            self.commands.pop((scope, str(params.get("language_code") or "")), None)
        return True

    async def _answer_callback_query(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        with self._lock:
            self.callback_answers.append(params)
        return True
