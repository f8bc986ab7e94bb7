"""The delivery sender: drains the ledger (outbox) into Telegram.

A row is marked sent only after Telegram confirms it, with the message ids it
returned. Rows are claimed (``pending`` → ``sending``) in batches; at start every
``sending`` row left by a crash is released back to ``pending``, so after a
crash only messages that were in flight can be sent twice. Every ledger call
runs on a database thread. Confirmations are written at the end of the event-loop
turn in which they arrived, all of that turn's in one transaction: under load many
answers arrive in one turn (a transaction per message cost a quarter of the
paid-broadcast throughput), yet no confirmation waits for a timer. A clean stop
flushes first. A post split into several messages records each confirmed piece,
so a restart resumes with the next piece rather than repeating the first.

Rate limits live in the bot's rate limiter (`feedbot.telegram.send.limits`), which
every request passes; this module decides what a Telegram answer means for the
row: sent, retry later (network errors, 5xx, timeouts: bounded, with backoff),
failed (a bug such as unparsable HTML, or attempts exhausted), the chat is gone
(403, chat not found: unsubscribe, no retry) or the chat moved (follow it and
resend there: a row in flight stays claimed while it follows the chat, so it is
not sent twice).

Deliveries to one chat run one after another, in ledger order: posts arrive in
the order they were written, and when a chat turns out to be gone, the other
posts already claimed for it are dropped instead of each earning its own 403.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, Protocol, TypeVar

from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import ChatMigrated, RetryAfter, TelegramError

from feedbot.articles.model import Entry
from feedbot.errors import FencedError, StoreError
from feedbot.store.outbox import Delivery, Done
from feedbot.telegram.send.compose import Composer, Rendering
from feedbot.telegram.send.drain import Claims, Clock, Drain, DrainSettings, Offload
from feedbot.telegram.send.limits import retry_after_seconds
from feedbot.telegram.send.outcomes import backoff, chat_id_for_api, classify_error, post_digest
from feedbot.telegram.send.plan import quiet_for, send_options, thread_gone

__all__ = ["Delivery", "Ledger", "SendSettings", "Sender", "chat_id_for_api", "classify_error"]

log = logging.getLogger("feedbot.telegram.delivery")

P = ParamSpec("P")
T = TypeVar("T")


class Ledger(Claims, Protocol):
    """What the sender needs from the store: the delivery ledger
    (`feedbot.store.outbox.Outbox`), called on a database thread."""

    def claim_due(self, now: datetime, limit: int) -> list[Delivery]: ...
    def entry(self, article_id: str) -> Entry | None: ...
    def record_progress(self, delivery_id: int, message_ids: Sequence[int]) -> None: ...
    def finish_many(self, done: Sequence[Done]) -> None: ...
    def chat_gone(self, chat: str, reason: str) -> None: ...
    def thread_gone(self, chat: str, thread_id: int, reason: str) -> None: ...
    def chat_migrated(self, delivery_id: int, old: str, new: str) -> bool:
        """Follow a migrated chat; True when ``delivery_id`` should go on to ``new``."""
        ...


@dataclass(frozen=True, slots=True)
class SendSettings(DrainSettings):
    """How the sender works (`DrainSettings`), and what only sends need."""

    paid_broadcast: bool = False  # Telegram's paid broadcasts: above the free rate
    default_timezone: str = "UTC"  # a subscription's quiet hours when it chose no zone


class Sender(Drain[Ledger]):
    """Drains due deliveries with at most ``max_in_flight`` sends under way."""

    role = "sender"
    noun = "delivery"
    doing = "sending post %s to chat %s"
    _log = log

    def __init__(
        self,
        bot: Bot,
        ledger: Ledger,
        offload: Offload,
        rendering: Rendering,
        settings: SendSettings,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(ledger, offload, settings, clock=clock, on_outcome=on_outcome)
        self._bot = bot
        self._timezone = settings.default_timezone
        self._composer = Composer(
            self._entry, rendering, default_language=settings.default_language
        )
        self._max_attempts = settings.max_attempts
        self._paid = settings.paid_broadcast
        self._batch = settings.batch
        self._queue: deque[Delivery] = deque()
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._confirmed: list[Done] = []
        self._recording: set[int] = set()  # sent, confirmation being written
        self._flush_handle: asyncio.Handle | None = None
        self._writes: set[asyncio.Future[Any]] = set()  # ledger writes not yet finished
        self._moved: dict[str, str] = {}  # chat id -> the id it migrated to
        self._claimed: dict[str, set[int]] = {}  # chat -> ids claimed and not finished
        self._dropped: set[int] = set()  # claimed ids the ledger already closed

    async def _entry(self, article_id: str) -> Entry | None:
        return await self._call(self._ledger.entry, article_id)

    def forget(self, article_ids: Collection[str]) -> None:
        """These articles changed or went away: read them again before the next send."""
        self._composer.forget(article_ids)

    async def run(self, *, poll: float = 1.0) -> None:
        """Send until `stop()` (or a fenced write); release the claims left by a previous
        crash, or by a leader that lost the lease, first."""
        if not await self._resume("deliveries"):
            return
        backoff = 0.0  # after a failed claim: its commit may have landed unacknowledged
        while not self._stopping:
            if not self._queue:
                try:
                    if backoff or self._orphaned:  # put back what nobody sends; keep ours
                        await self._release()
                        self._orphaned = False
                    claimed = await self._call(self._ledger.claim_due, self._clock(), self._batch)
                except FencedError as e:
                    self._fenced(e)
                    break
                except StoreError:  # the database logs the outage once; wait and retry
                    backoff = min(max(backoff * 2, 0.5), 10.0)
                    self._wake.clear()  # stop() sets it
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), backoff)
                    continue
                backoff = 0.0
                if self._stopping:  # stop() released the claims while this one ran
                    await self._put_back_late()
                    break
                self.crashed = None  # claiming again
                for d in claimed:
                    self._claimed.setdefault(d.chat, set()).add(d.id)
                self._queue.extend(claimed)
            if not self._queue:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)
                continue
            if not await self._slot():
                break
            delivery = self._queue.popleft()
            self._start(self._deliver(delivery), f"deliver-{delivery.id}")

    def _held(self) -> set[int]:
        """Ids this sender holds claimed: queued, being sent, or sent but not yet recorded."""
        held = {d.id for d in self._queue} | {i for ids in self._claimed.values() for i in ids}
        return held | {d[0] for d in self._confirmed} | self._recording

    async def stop(self, grace: float = 5.0) -> None:
        """Stop claiming; let sends in flight finish (up to ``grace`` s); release the rest."""
        await self._finish_tasks(grace)
        self._flush()
        if self._writes:  # what Telegram confirmed is recorded before the claims go back
            await asyncio.wait(set(self._writes), timeout=grace)
        self._queue.clear()
        self._claimed.clear()
        self._dropped.clear()
        # what Telegram confirmed but is not recorded yet stays claimed (not sent twice)
        unrecorded = {d[0] for d in self._confirmed} | self._recording
        try:
            await self._call(self._ledger.release_claims, unrecorded)
        except FencedError:  # the new leader releases them
            pass
        except StoreError as e:  # the database is away: the next leader releases them
            log.warning("sender: claims not released (%s); the next leader releases them", e)

    def _confirm(self, delivery_id: int, message_ids: Sequence[int], digest: str) -> None:
        """Telegram confirmed the whole post: record it at the end of this loop turn."""
        self._confirmed.append((delivery_id, tuple(message_ids), self._clock(), digest))
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_soon(self._flush)
        self._count("sent")

    def _flush(self) -> None:
        """Write the gathered confirmations in one transaction (on a database thread)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        done, self._confirmed = self._confirmed, []
        if not done:
            return
        self._track(self._record_sent(done))

    def _track(self, write: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run a ledger write to its end even if the send that led to it is cancelled
        (a stop with no grace): a message Telegram took must not be forgotten."""
        future = asyncio.ensure_future(write)
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)
        return future

    async def _record(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A row's outcome (`_write`: retried while the database is away), seen to its end
        even when the send is cancelled."""
        return await asyncio.shield(self._track(self._write(fn, *args, **kwargs)))

    async def _record_sent(self, done: list[Done]) -> None:
        ids = {d[0] for d in done}
        self._recording |= ids
        try:
            await self._write(self._ledger.finish_many, done)
        except FencedError as e:  # the new leader released and resends them
            log.warning("%d sends not recorded: %s", len(done), e)
            self._fenced(e)
        except Exception:  # the rows stay claimed; a restart resends them
            log.exception("could not record %d sent deliveries", len(done))
        finally:
            self._recording -= ids

    async def _deliver(self, delivery: Delivery) -> None:
        """Send one delivery after the ones claimed before it for the same chat."""
        chat = delivery.chat
        lock = self._chat_locks.setdefault(chat, asyncio.Lock())
        try:
            async with lock:
                if delivery.id in self._dropped:
                    self._dropped.discard(delivery.id)
                    return  # the chat went away while this one waited; the ledger knows
                await self._work(delivery.id, delivery, self._send(delivery))
        finally:
            ids = self._claimed.get(chat)
            if ids is not None:
                ids.discard(delivery.id)
                if not ids:
                    del self._claimed[chat]
            if not lock.locked() and self._claimed.get(chat) is None:
                self._chat_locks.pop(chat, None)

    async def _send(self, delivery: Delivery) -> None:
        ledger = self._ledger
        composed = await self._composer.compose(delivery)
        if composed is None:
            await self._give_up(delivery.id, delivery.attempts, "article removed before delivery")
            return
        pieces = composed.pieces
        quiet = quiet_for(delivery, self._clock(), self._timezone)
        if quiet.hold_until is not None:  # the chat's quiet hours: not an attempt
            await self._record(
                ledger.retry, delivery.id, delivery.attempts, quiet.hold_until, "quiet hours"
            )
            self._count("held")
            return
        sent = list(delivery.message_ids)
        chat = self._moved.get(delivery.chat, delivery.chat)
        migrations = 0
        while len(sent) < len(pieces):
            try:
                message = await self._bot.send_message(
                    chat_id=chat_id_for_api(chat),
                    text=pieces[len(sent)],
                    parse_mode=ParseMode.HTML,
                    allow_paid_broadcast=True if self._paid else None,
                    **send_options(delivery, quiet),
                    **composed.extras(len(sent)),
                )
            except ChatMigrated as e:
                new = str(e.new_chat_id)
                log.info("chat %s moved to %s: following it", chat, new)
                self._moved[chat] = new
                go_on = await self._record(ledger.chat_migrated, delivery.id, chat, new)
                chat, migrations = new, migrations + 1
                if not go_on:
                    self._count("failed")
                    return  # the new chat was owed this post already: its own row sends it
                if migrations > 3:
                    await self._give_up(delivery.id, delivery.attempts, "chat keeps migrating")
                    return
                continue
            except RetryAfter as e:  # the limiter already paused and retried; try later
                wait = timedelta(seconds=retry_after_seconds(e))
                await self._retry_at(delivery.id, delivery.attempts, self._clock() + wait, str(e))
                return
            except TelegramError as e:
                await self._refused(delivery, chat, e)
                return
            sent.append(message.message_id)
            if len(sent) < len(pieces):
                await self._record(ledger.record_progress, delivery.id, sent)
        self._confirm(delivery.id, sent, post_digest(pieces))

    async def _refused(self, delivery: Delivery, chat: str, error: TelegramError) -> None:
        """Telegram refused a piece: what that means for the row (and the chat)."""
        kind = classify_error(error)
        reason = f"{type(error).__name__}: {error}"
        attempts = delivery.attempts + 1
        if thread_gone(error, delivery):
            log.info(
                "topic %d of chat %s is gone (%s): unsubscribed", delivery.thread_id, chat, error
            )
            await self._record(self._ledger.thread_gone, chat, delivery.thread_id, reason)
            await self._record(self._ledger.fail, delivery.id, attempts, reason)
            self._count("gone")
        elif kind == "gone":
            log.info("chat %s is gone (%s): unsubscribed", chat, error)
            await self._record(self._ledger.chat_gone, chat, reason)
            await self._record(self._ledger.fail, delivery.id, attempts, reason)
            self._dropped.update(self._claimed.get(delivery.chat, set()) - {delivery.id})
            self._count("gone")
        elif kind == "bug":
            log.error(
                "BUG: Telegram refused post %s for chat %s: %s — this is a rendering bug, "
                "please report it",
                delivery.article_id,
                chat,
                error,
            )
            await self._give_up(delivery.id, attempts, reason)
        elif kind == "retry" and attempts < self._max_attempts:
            log.warning(
                "sending post %s to chat %s failed (%s); retry %d of %d",
                delivery.article_id,
                chat,
                error,
                attempts,
                self._max_attempts - 1,
            )
            await self._retry_at(delivery.id, attempts, self._clock() + backoff(attempts), reason)
        else:
            log.warning("giving up on post %s for chat %s: %s", delivery.article_id, chat, error)
            await self._give_up(delivery.id, attempts, reason)
