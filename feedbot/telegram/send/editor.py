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
from feedbot.telegram.send.compose import NO_PREVIEW, Options, Renderer, no_extras
from feedbot.telegram.send.drain import Drain
from feedbot.telegram.send.limits import retry_after_seconds
from feedbot.telegram.send.lookups import Lookups
from feedbot.telegram.send.outcomes import backoff, chat_id_for_api, classify_error

__all__ = ["EditLedger", "Editor"]

log = logging.getLogger("feedbot.telegram.editing")

Clock = Callable[[], datetime]


class EditLedger(Protocol):
    """What the editor needs from the store (async: the store works off the loop)."""

    async def release_claims(self, keep: Collection[int] = ()) -> int: ...
    async def claim_due(self, now: datetime, limit: int) -> list[Edit]: ...
    async def article(self, article_id: str) -> tuple[Entry, bool] | None: ...
    async def record_messages(
        self, delivery_id: int, message_ids: Sequence[int], rendered: str | None
    ) -> None: ...
    async def finish(
        self, delivery_id: int, wanted: int, message_ids: Sequence[int], rendered: str | None
    ) -> bool: ...
    async def retry(
        self, delivery_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None: ...
    async def fail(self, delivery_id: int, attempts: int, error: str) -> None: ...


class _Terminal(Exception):
    """The correction cannot be carried out (recorded as failed)."""


class Editor(Drain):
    """Carries out due corrections, at most ``max_in_flight`` at a time."""

    role = "editor"

    def __init__(
        self,
        bot: Bot,
        ledger: EditLedger,
        render: Renderer,
        *,
        default_language: str,
        max_attempts: int,
        max_in_flight: int = 64,
        batch: int = 200,
        clock: Clock = lambda: datetime.now(UTC),
        on_outcome: Callable[[str], None] | None = None,
        on_fenced: Callable[[str], None] | None = None,
        options: Options = no_extras,
    ) -> None:
        super().__init__(max_in_flight=max_in_flight, on_outcome=on_outcome, on_fenced=on_fenced)
        self._bot = bot
        self._options = options
        self._ledger = ledger
        self._render = render
        self._default_language = default_language
        self._max_attempts = max_attempts
        self._batch = batch
        self._clock = clock
        self._articles: Lookups[tuple[Entry, bool] | None] = Lookups(ledger.article)
        self._held: set[int] = set()  # rows whose correction is under way

    def forget(self, article_ids: Collection[str]) -> None:
        """These articles changed: read them again for the next correction."""
        self._articles.forget(article_ids)

    async def run(self, *, poll: float = 1.0) -> None:
        """Correct until `stop()` (or a fenced write); first release the claims a crash,
        or a leader that lost the lease, left behind."""
        self._stopping = False
        try:  # after a crash of `run`, the corrections it started are still under way
            released = await self._ledger.release_claims(keep=set(self._held))
        except FencedError as e:
            self._fenced(e)
            return
        if released:
            log.info("resuming %d corrections that were in flight at the last stop", released)
        pause = 0.0
        while not self._stopping:
            try:
                if self._orphaned:  # a correction's outcome could not be written
                    self._orphaned = False
                    await self._ledger.release_claims(keep=set(self._held))
                claimed = await self._ledger.claim_due(self._clock(), self._batch)
                pause = 0.0
                if self._stopping:  # stop() released the claims while this one ran
                    await self._put_back_late(lambda: self._ledger.release_claims(set(self._held)))
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
                self._held.add(edit.delivery_id)
                self._start(self._correct(edit), f"edit-{edit.delivery_id}")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; let corrections in flight finish (up to ``grace`` s); release
        the rest (doing one again is harmless)."""
        await self._finish_tasks(grace)
        with contextlib.suppress(FencedError, StoreError):
            await self._ledger.release_claims()

    async def _correct(self, edit: Edit) -> None:
        """Carry out one correction and record its outcome."""
        try:
            await self._correct_one(edit)
        except FencedError as e:
            self._fenced(e)
        except StoreError as e:  # the database went away mid-correction
            self._orphan(f"correction {edit.delivery_id}", e)
        except Exception as e:  # a bug: record it, never leave the row claimed
            await self._broken(edit, e)
        finally:
            self._held.discard(edit.delivery_id)

    async def _broken(self, edit: Edit, error: Exception) -> None:
        """A correction raised something no outcome covers: log it with its traceback and
        try again later (failed once out of attempts)."""
        attempts = edit.attempts + 1
        reason = f"{type(error).__name__}: {error}"
        log.error(
            "BUG: correcting post %s in chat %s raised %s",
            edit.article_id,
            edit.chat,
            reason,
            exc_info=error,
        )
        try:
            if attempts < self._max_attempts:
                at = self._clock() + backoff(attempts)
                await self._ledger.retry(edit.delivery_id, attempts, at, reason)
                self._count("retry")
            else:
                await self._ledger.fail(edit.delivery_id, attempts, reason)
                self._count("failed")
        except FencedError as e:
            self._fenced(e)
        except Exception as e:
            self._orphan(f"correction {edit.delivery_id}", e)

    async def _correct_one(self, edit: Edit) -> None:
        """Carry out one correction and record its outcome (a bug raises to `_correct`)."""
        try:
            found = await self._articles.get(edit.article_id)
            if found is None:  # no such article (the ledger outlived it): nothing to show
                await self._ledger.finish(edit.delivery_id, edit.wanted, edit.message_ids, None)
                return
            entry, removed = found
            language = edit.language or self._default_language
            post = () if removed else self._render(entry, language, edit.style)
            plan = decide(edit, entry, removed, post, language=language, now=self._clock())
            count = len(post)
            extras = {i: self._options(entry, language, i, count) for i in range(count)}
            messages = await self._carry_out(edit, plan, extras)
            await self._ledger.finish(edit.delivery_id, edit.wanted, messages, plan.digest)
            self._count("edited" if plan.steps else "unchanged")
        except FencedError as e:
            self._fenced(e)
        except _Terminal as e:
            log.warning("cannot correct post %s in chat %s: %s", edit.article_id, edit.chat, e)
            await self._ledger.fail(edit.delivery_id, edit.attempts + 1, str(e))
            self._count("failed")
        except RetryAfter as e:  # the limiter already paused and retried; try later
            wait = timedelta(seconds=retry_after_seconds(e))
            at = self._clock() + wait
            await self._ledger.retry(edit.delivery_id, edit.attempts, at, str(e))
            self._count("retry")
        except TelegramError as e:
            attempts = edit.attempts + 1
            reason = f"{type(e).__name__}: {e}"
            if classify_error(e) == "retry" and attempts < self._max_attempts:
                at = self._clock() + backoff(attempts)
                await self._ledger.retry(edit.delivery_id, attempts, at, reason)
                self._count("retry")
            else:
                log.warning("giving up correcting %s in chat %s: %s", edit.article_id, edit.chat, e)
                await self._ledger.fail(edit.delivery_id, attempts, reason)
                self._count("failed")

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
                await self._ledger.record_messages(edit.delivery_id, messages, edit.rendered)
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
