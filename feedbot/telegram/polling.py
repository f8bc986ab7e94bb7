"""Receiving updates by long polling, only while this replica leads.

python-telegram-bot's `Updater` polls on its own schedule: after a 409 it retries a
second later, and its stop sends one more ``getUpdates`` to confirm what it queued.
A leader that was paused (SIGSTOP) and wakes after losing the lease would so end the
new leader's long poll, and confirm updates it queued but never handled. `Poller`
replaces it, and holds three rules:

* it asks ``permit`` (the leadership's ``may_act``: the lease's local deadline, no
  database round trip) before every ``getUpdates``, so it never polls while not leading;
* the updates a poll returns are handled (``Application.process_update``) only if
  ``permit`` still holds when they arrive, and the offset that confirms an update to
  Telegram moves past it only once it was handled: what a replica took but did not
  handle is left to the next leader;
* a 409 Conflict (another instance polls: the new leader) ends polling at once and
  calls ``on_conflict`` (the leadership's ``step_down``). A single daemon on SQLite
  has no other replica to defer to: it warns and tries again after `CONFLICT_WAIT`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut

from feedbot.telegram.send.limits import retry_after_seconds

__all__ = ["CONFLICT_WAIT", "Poller"]

log = logging.getLogger("feedbot.telegram.polling")

CONFLICT_WAIT = 5.0  # seconds a single daemon waits after a 409 before it polls again
MAX_BACKOFF = 30.0  # seconds between polls while the Bot API cannot be reached
STOP_WAIT = 5.0  # seconds a stop waits for the update being handled


class Poller:
    """Long-polls ``getUpdates`` for ``application`` while ``permit()`` holds."""

    def __init__(
        self,
        application: Any,
        *,
        permit: Callable[[], bool] = lambda: True,
        on_conflict: Callable[[str], None] | None = None,
        timeout: int = 20,
    ) -> None:
        self._application = application
        self.permit = permit
        self.on_conflict = on_conflict  # None: a single daemon, which waits and polls again
        self._timeout = timeout
        self._offset = 0  # the next update_id to ask for: every one below it was handled
        self._confirmed = 0  # the offset Telegram was last sent
        self._task: asyncio.Task[None] | None = None
        self._handling = False
        self._stopping = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Poll in a task until `stop`, a lost lease or a 409."""
        if self.running:
            return
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="telegram-polling")

    async def stop(self, *, confirm: bool = True) -> None:
        """Stop polling: the update being handled finishes, a long poll is dropped.
        With ``confirm``, and only while ``permit()`` holds, one last ``getUpdates``
        without waiting confirms the updates handled since the last poll."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            if not self._handling:
                task.cancel()
            done, _ = await asyncio.wait([task], timeout=STOP_WAIT)
            if not done:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(task, return_exceptions=True)
        if confirm and self._offset > self._confirmed and self.permit():
            try:
                await self._application.bot.get_updates(offset=self._offset, timeout=0, limit=1)
                self._confirmed = self._offset
            except TelegramError as e:  # the next leader may handle them once more
                log.warning("could not confirm the handled updates to Telegram: %s", e)

    async def _run(self) -> None:
        bot = self._application.bot
        delay, failing = 1.0, False
        while not self._stopping:
            if not self.permit():
                log.warning("not the leader: polling for updates stops")
                return
            try:
                updates = await bot.get_updates(
                    offset=self._offset, timeout=self._timeout, allowed_updates=Update.ALL_TYPES
                )
            except Conflict as e:
                if self._conflict(e, again=failing):
                    return
                failing = True
                await asyncio.sleep(CONFLICT_WAIT)
                continue
            except InvalidToken:  # its message may quote the token: never log it
                log.error("telegram.token was rejected by Telegram; polling stops")
                return
            except RetryAfter as e:
                await asyncio.sleep(retry_after_seconds(e))
                continue
            except TimedOut:
                continue
            except Exception as e:  # network trouble (a TelegramError), or an answer we cannot read
                if not failing:
                    exc_info = None if isinstance(e, TelegramError) else e
                    log.warning(
                        "cannot poll Telegram for updates (%s); retrying", e, exc_info=exc_info
                    )
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, MAX_BACKOFF)
                continue
            if failing:
                log.info("polling Telegram for updates again")
            delay, failing = 1.0, False
            self._confirmed = self._offset
            await self._handle(updates)

    def _conflict(self, error: Conflict, *, again: bool) -> bool:
        """A 409: True when polling must end (replicas: the other one leads now). A single
        daemon says so once (not ``again``) until a poll succeeds."""
        if self.on_conflict is None:
            if again:
                return False
            log.warning(
                "getUpdates answered 409 (%s): is another instance running with this token? "
                "Polling again in %gs",
                error.message,
                CONFLICT_WAIT,
            )
            return False
        log.warning("getUpdates answered 409: another replica polls; this one stops polling")
        self.on_conflict(f"getUpdates answered 409 ({error.message})")
        return True

    async def _handle(self, updates: Any) -> None:
        for update in updates:
            if self._stopping:  # a stop: the rest stays unconfirmed for whoever polls next
                return
            if not self.permit():
                log.warning(
                    "not the leader any more: %d update(s) left unhandled and unconfirmed "
                    "for the next leader",
                    len([u for u in updates if u.update_id >= self._offset]),
                )
                self._stopping = True
                return
            self._handling = True
            try:  # handler errors go to the error handler; this is for anything past it
                await self._application.process_update(update)
            except Exception:
                log.exception("update %d could not be processed; skipped", update.update_id)
            finally:
                self._handling = False
            self._offset = update.update_id + 1
