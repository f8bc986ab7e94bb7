"""The bot as one daemon component: start, wake, stop, and its webhook route.

It drives python-telegram-bot's `Application` inside the daemon's event loop
(initialize/start, our `Poller` or a webhook route on our Starlette app,
stop/shutdown — never ``run_polling``, which would own the loop) together with the
delivery `Sender`. Polling is ours, not PTB's `Updater`: it polls only while this
replica leads, and stops first when it does not (`feedbot.telegram.polling`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.routing import BaseRoute
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application

from feedbot.cluster.leader import Leadership
from feedbot.config import TelegramSettings
from feedbot.errors import ConfigError, FencedError, StoreError
from feedbot.store import Inbox, Store
from feedbot.telegram.chat.handlers import (
    rates,
    register_commands,
    webhook_route,
)
from feedbot.telegram.polling import Poller
from feedbot.telegram.send.digests import DigestJob
from feedbot.telegram.send.editor import Editor
from feedbot.telegram.send.limits import FeedbotRateLimiter
from feedbot.telegram.send.request import LeaderRequest
from feedbot.telegram.send.sender import Sender

__all__ = ["Drains", "Reloaded", "TelegramService"]

log = logging.getLogger(__name__)

INBOX_POLL = 0.2  # seconds between looks at the webhook inbox when it was empty


class Reloaded(Protocol):
    """The settings SIGHUP re-read (`feedbot.runtime.reload`): the service reads only
    their telegram section, for the rate limits."""

    @property
    def telegram(self) -> TelegramSettings: ...


@dataclass(frozen=True, slots=True)
class Drains:
    """What the leader runs: the sender, the editor and the digest job."""

    sender: Sender
    editor: Editor
    digests: DigestJob


class TelegramService:
    """The Telegram half of the daemon, from the parts `feedbot.telegram.assemble`
    builds: the application with its handlers, the post's shape, the webhook ``secret``
    and, when polling, the `Poller`; ``tg`` is the telegram section of the settings."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        store: Store,
        tg: TelegramSettings,
        drains: Drains,
        *,
        secret: str,
        poller: Poller | None,
        inbox: Inbox | None = None,
    ) -> None:
        self._application = application
        self._store = store
        self._tg = tg
        self._secret = secret
        self.sender, self.editor, self.digests = drains.sender, drains.editor, drains.digests
        self._editor_task: asyncio.Task[None] | None = None
        self._inbox = inbox  # replicas in webhook mode: followers hand updates over here
        self._inbox_task: asyncio.Task[None] | None = None
        self.poller = poller
        self._initialized = False
        self._leading = False
        self._sender_task: asyncio.Task[None] | None = None
        self._retry_task: asyncio.Task[None] | None = None
        self.running = False
        self.username: str | None = None
        self._told_inline = False

    @property
    def application(self) -> Any:
        return self._application

    @property
    def routes(self) -> list[BaseRoute]:
        """The webhook route in webhook mode; nothing when polling."""
        tg = self._tg
        if tg.mode != "webhook":
            return []
        forward = self._forward if self._inbox is not None else None
        return [webhook_route(self._application, tg.webhook_path, self._secret, forward=forward)]

    async def _forward(self, data: Any) -> bool:
        """A follower keeps a webhook update for the leader (True); the leader handles it."""
        if self._leading or self._inbox is None:
            return False
        await self._store.call(self._inbox.push, json.dumps(data))
        return True

    async def _drain_inbox(self) -> None:
        """The leader handles the updates followers received, in arrival order."""
        assert self._inbox is not None
        while self.running:
            try:
                taken = await self._store.call(self._inbox.take)
            except FencedError as e:
                if self.sender.on_fenced is not None:
                    self.sender.on_fenced(str(e))
                return
            except StoreError as e:
                log.warning("cannot read the webhook inbox: %s", e)
                taken = []
            for payload in taken:
                update = Update.de_json(json.loads(payload), self._application.bot)
                await self._application.update_queue.put(update)
            if not taken:
                await asyncio.sleep(INBOX_POLL)

    def wake(self, changed: Collection[str] = ()) -> None:
        """New deliveries or corrections were written: send them now. ``changed``: articles
        that changed or went away, read again before their next send or edit."""
        self.sender.forget(changed)
        self.editor.forget(changed)
        self.sender.wake()
        self.editor.wake()

    async def start(self) -> None:
        """Every replica: nothing to do until this one leads (only the leader talks to
        Telegram: polling, sending, setting the webhook)."""
        return None

    async def lead(self, leadership: Leadership | None = None) -> None:
        """Connect to Telegram and start receiving updates and sending posts.

        With ``leadership``, every message asks it whether this replica still leads just
        before its HTTP request (`LeaderRequest`), and a fenced ledger write steps it down;
        the first message waits one rate window, for what the previous leader sent.
        A token Telegram rejects is a configuration error. A network failure is logged
        and retried in the background: the feed side runs meanwhile.
        """
        if leadership is not None:
            limiter = self._application.bot.rate_limiter
            if isinstance(limiter, FeedbotRateLimiter):
                limiter.take_over()  # the previous leader's last second still counts
            request = self._application.bot.request
            if isinstance(request, LeaderRequest):
                request.permit = leadership.may_act
            self.sender.on_fenced = leadership.step_down
            self.digests.on_fenced = leadership.step_down
            self.editor.on_fenced = leadership.step_down
            if self.poller is not None:
                self.poller.permit = leadership.may_act
                self.poller.on_conflict = None if leadership.solo else leadership.step_down
        self._leading = True
        try:
            await self._connect()
        except InvalidToken:
            raise ConfigError(
                "telegram.token was rejected by Telegram (check FEEDBOT_TELEGRAM__TOKEN)"
            ) from None
        except TelegramError as e:
            log.warning("cannot reach the Telegram Bot API (%s); retrying in the background", e)
            self._retry_task = asyncio.create_task(self._connect_later(), name="telegram-connect")

    async def _connect_later(self) -> None:
        delay = 5.0
        while not self.running and self._leading:
            await asyncio.sleep(delay)
            try:
                await self._connect()
            except InvalidToken:  # its message quotes the token: never log it
                log.error("telegram.token was rejected by Telegram; the bot stays off")
                return
            except TelegramError as e:
                log.warning("still cannot reach the Telegram Bot API (%s)", e)
                delay = min(delay * 2, 300.0)

    async def _connect(self) -> None:
        application = self._application
        tg = self._tg
        if not self._initialized:
            await application.initialize()
            self._initialized = True
        self.username = application.bot.username
        if not application.bot.supports_inline_queries and not self._told_inline:
            self._told_inline = True
            log.info(
                "inline mode is off: send /setinline to @BotFather (and /setinlinefeedback "
                "to count shares) to let people type @%s words in any chat",
                self.username,
            )
        await register_commands(application)
        if tg.mode == "webhook":
            if not tg.webhook_url:
                raise ConfigError("telegram.mode is webhook but telegram.webhook_url is not set")
            await application.bot.set_webhook(
                tg.webhook_url, secret_token=self._secret, allowed_updates=Update.ALL_TYPES
            )
        else:
            await application.bot.delete_webhook()
        await application.start()
        if self.poller is not None:
            self.poller.start()
        sender, editor = self.sender.keep_running(), self.editor.keep_running()
        self._sender_task = asyncio.create_task(sender, name="telegram-sender")
        self.digests.start()
        self._editor_task = asyncio.create_task(editor, name="telegram-editor")
        self.running = True
        if self._inbox is not None:
            self._inbox_task = asyncio.create_task(self._drain_inbox(), name="telegram-inbox")
        log.info("Telegram bot @%s is up (%s)", self.username, tg.mode)

    def reconfigure(self, settings: Reloaded) -> None:
        """Apply the rate limits of ``settings`` at once (SIGHUP); nothing else the
        service reads can change while it runs."""
        limiter = self._application.bot.rate_limiter
        if isinstance(limiter, FeedbotRateLimiter):
            limiter.set_rates(**rates(settings.telegram))

    def health(self) -> dict[str, Any]:
        """The bot's part of `/healthz`."""
        return {
            "telegram": {
                "running": self.running,
                "username": self.username,
                "mode": self._tg.mode,
                "sending": self.sender.in_flight,
                "editing": self.editor.in_flight,
                "down": self.down(),
            }
        }

    def down(self) -> str | None:
        """A sender or editor that crashed and is waiting to run again (503 in `/healthz`)."""
        if not self.running:
            return None
        crashed = [f"{d.role} ({d.crashed})" for d in (self.sender, self.editor) if d.crashed]
        return f"telegram {' and '.join(crashed)} crashed, restarting" if crashed else None

    async def stop_leading(self) -> None:
        """Stop leading: stop polling and claiming; sends in flight finish."""
        self._leading = False
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
            self._retry_task = None
        if not self.running:
            return
        self.running = False
        if self.poller is not None:  # first: no update is taken that another replica should
            await self.poller.stop()
        self.digests.stop()
        try:  # whatever the drains meet (the database away), the application stops
            if self._inbox_task is not None:
                await asyncio.gather(self._inbox_task, return_exceptions=True)
            stops = await asyncio.gather(
                self.sender.stop(), self.editor.stop(), return_exceptions=True
            )
            for error in stops:
                if isinstance(error, Exception):
                    log.warning("stopping the sender or the editor: %s", error)
            tasks = [t for t in (self._sender_task, self._editor_task) if t is not None]
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if self._application.running:  # else the next term cannot start it again
                await self._application.stop()
        log.info("Telegram bot stopped polling and sending (not the leader)")

    async def stop(self) -> None:
        """Finish sends in flight, stop receiving updates, close the connection."""
        await self.stop_leading()
        if self._initialized:
            self._initialized = False
            await self._application.shutdown()
        else:  # a failed initialize() may have opened the bot's connections: close them
            await self._application.bot.shutdown()
