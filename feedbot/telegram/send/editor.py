"""The editor: drains the corrections ledger (`feedbot.store.edits`) into Telegram.

It claims due corrections in batches, renders each post at the moment it edits
(from the article as it is then, in the subscription's language and style), and carries out the
`feedbot.telegram.render.corrections.Plan`: ``editMessageText``, ``deleteMessage`` and, for
a post that grew, ``sendMessage`` replying to the first piece — every request
through the bot's rate limiter, like the sends. Telegram's "message is not
modified" counts as done; "message to edit not found" is a terminal outcome,
recorded on the row. A piece sent for a grown post is recorded at once, so a
restart does not send it again; everything else is idempotent, so a correction cut
short by a crash is simply done again (the row is released back to ``pending``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from telegram import Bot, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter, TelegramError

from feedbot.articles.model import Entry
from feedbot.errors import FencedError, StoreError
from feedbot.store.edits import Edit
from feedbot.telegram.render.corrections import Plan, Step, decide
from feedbot.telegram.send.compose import NO_PREVIEW, Rendering
from feedbot.telegram.send.drain import Claims, Clock, Drain, DrainSettings, Offload
from feedbot.telegram.send.limits import retry_after_seconds
from feedbot.telegram.send.lookups import Lookups
from feedbot.telegram.send.outcomes import backoff, chat_id_for_api, classify_error

__all__ = ["EditLedger", "Editor"]

log = logging.getLogger("feedbot.telegram.editing")


class EditLedger(Claims, Protocol):
    """What the editor needs from the store: the corrections ledger
    (`feedbot.store.edits.Edits`), called on a database thread."""

    def claim_due(self, now: datetime, limit: int) -> list[Edit]: ...
    def article(self, article_id: str) -> tuple[Entry, bool] | None: ...
    def record_messages(
        self, delivery_id: int, message_ids: Sequence[int], rendered: str | None
    ) -> None: ...
    def finish(
        self, delivery_id: int, wanted: int, message_ids: Sequence[int], rendered: str | None
    ) -> bool: ...


class _Terminal(Exception):
    """The correction cannot be carried out (recorded as failed)."""


class Editor(Drain[EditLedger]):
    """Carries out due corrections, at most ``max_in_flight`` at a time."""

    role = "editor"

    noun = "correction"
    doing = "correcting post %s in chat %s"
    _log = log

    def __init__(
        self,
        bot: Bot,
        ledger: EditLedger,
        offload: Offload,
        rendering: Rendering,
        settings: DrainSettings,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(ledger, offload, settings, clock=clock, on_outcome=on_outcome)
        self._bot = bot
        self._options = rendering.options
        self._render = rendering.post
        self._default_language = settings.default_language
        self._max_attempts = settings.max_attempts
        self._batch = settings.batch
        self._articles: Lookups[tuple[Entry, bool] | None] = Lookups(self._article)
        self._holding: set[int] = set()  # rows whose correction is under way

    async def _article(self, article_id: str) -> tuple[Entry, bool] | None:
        return await self._call(self._ledger.article, article_id)

    def forget(self, article_ids: Collection[str]) -> None:
        """These articles changed: read them again for the next correction."""
        self._articles.forget(article_ids)

    async def run(self, *, poll: float = 1.0) -> None:
        """Correct until `stop()` (or a fenced write); first release the claims a crash,
        or a leader that lost the lease, left behind."""
        if not await self._resume("corrections"):
            return
        pause = 0.0
        while not self._stopping:
            try:
                if self._orphaned:  # a correction's outcome could not be written
                    await self._release()
                    self._orphaned = False
                claimed = await self._call(self._ledger.claim_due, self._clock(), self._batch)
                pause = 0.0
                if self._stopping:  # stop() released the claims while this one ran
                    await self._put_back_late()
                    break
                self.crashed = None  # claiming again
            except FencedError as e:
                self._fenced(e)
                break
            except StoreError:  # the database logs the outage once
                pause = min(max(pause * 2, 0.5), 10.0)
                claimed = []
            if not claimed:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause or poll)
                continue
            for edit in claimed:
                if not await self._slot():
                    break  # the rest stay claimed; `stop` releases them
                self._holding.add(edit.delivery_id)
                self._start(self._correct(edit), f"edit-{edit.delivery_id}")

    def _held(self) -> set[int]:
        return set(self._holding)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; let corrections in flight finish (up to ``grace`` s); release
        the rest (doing one again is harmless)."""
        await self._finish_tasks(grace)
        with contextlib.suppress(FencedError, StoreError):
            await self._call(self._ledger.release_claims)

    async def _correct(self, edit: Edit) -> None:
        """Carry out one correction and record its outcome."""
        try:
            await self._work(edit.delivery_id, edit, self._correct_one(edit))
        finally:
            self._holding.discard(edit.delivery_id)

    async def _correct_one(self, edit: Edit) -> None:
        """Carry out one correction and record its outcome (a bug raises to `_correct`)."""
        try:
            found = await self._articles.get(edit.article_id)
            if found is None:  # no such article (the ledger outlived it): nothing to show
                await self._record(
                    self._ledger.finish, edit.delivery_id, edit.wanted, edit.message_ids, None
                )
                return
            entry, removed = found
            language = edit.language or self._default_language
            post = () if removed else self._render(entry, language, edit.style)
            plan = decide(edit, entry, removed, post, language=language, now=self._clock())
            count = len(post)
            extras = {i: self._options(entry, language, i, count) for i in range(count)}
            messages = await self._carry_out(edit, plan, extras)
            await self._record(
                self._ledger.finish, edit.delivery_id, edit.wanted, messages, plan.digest
            )
            self._count("edited" if plan.steps else "unchanged")
        except FencedError as e:
            self._fenced(e)
        except _Terminal as e:
            log.warning("cannot correct post %s in chat %s: %s", edit.article_id, edit.chat, e)
            await self._give_up(edit.delivery_id, edit.attempts + 1, str(e))
        except RetryAfter as e:  # the limiter already paused and retried; try later
            wait = timedelta(seconds=retry_after_seconds(e))
            at = self._clock() + wait
            await self._retry_at(edit.delivery_id, edit.attempts, at, str(e))
        except TelegramError as e:
            attempts = edit.attempts + 1
            reason = f"{type(e).__name__}: {e}"
            if classify_error(e) == "retry" and attempts < self._max_attempts:
                at = self._clock() + backoff(attempts)
                await self._retry_at(edit.delivery_id, attempts, at, reason)
            else:
                log.warning("giving up correcting %s in chat %s: %s", edit.article_id, edit.chat, e)
                await self._give_up(edit.delivery_id, attempts, reason)

    async def _carry_out(
        self, edit: Edit, plan: Plan, extras: dict[int, dict[str, Any]]
    ) -> list[int]:
        """The plan's requests in order; the message ids the post has afterwards."""
        chat = chat_id_for_api(edit.chat)
        messages = list(edit.message_ids)
        for step in plan.steps:
            if step.kind == "send":
                reply = ReplyParameters(messages[0], allow_sending_without_reply=True)
                sent = await self._bot.send_message(
                    chat_id=chat,
                    text=step.text,
                    parse_mode=ParseMode.HTML,
                    reply_parameters=reply if messages else None,
                    message_thread_id=edit.thread_id or None,
                    **self._extras(step, extras),
                )
                messages.append(sent.message_id)
                await self._record(
                    self._ledger.record_messages, edit.delivery_id, messages, edit.rendered
                )
                continue
            assert step.message_id is not None
            if step.kind == "delete" and await self._delete(chat, step.message_id):
                messages.remove(step.message_id)
                continue
            await self._edit(chat, step, self._extras(step, extras))
        return messages

    async def _delete(self, chat: int | str, message_id: int) -> bool:
        """Delete a message; False when Telegram no longer allows it (edit it instead)."""
        try:
            await self._bot.delete_message(chat_id=chat, message_id=message_id)
        except BadRequest as e:
            text = str(e).lower()
            if "message to delete not found" in text:
                return True  # deleted already (by us before a crash, or by an admin)
            if "message can't be deleted" in text:
                return False
            raise
        return True

    @staticmethod
    def _extras(step: Step, extras: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """A piece's button and preview; a mark or a filler gets neither."""
        if step.piece is None:
            return {"link_preview_options": NO_PREVIEW}
        return extras[step.piece]

    async def _edit(self, chat: int | str, step: Step, extras: dict[str, Any]) -> None:
        assert step.message_id is not None
        try:
            await self._bot.edit_message_text(
                text=step.text,
                chat_id=chat,
                message_id=step.message_id,
                parse_mode=ParseMode.HTML,
                **extras,
            )
        except BadRequest as e:
            text = str(e).lower()
            if "message is not modified" in text:
                return  # it shows this already
            if "message to edit not found" in text:
                raise _Terminal("message to edit not found") from e
            raise
