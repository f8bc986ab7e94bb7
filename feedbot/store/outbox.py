"""The delivery ledger (an outbox): one row per post owed to a chat.

A row goes ``pending`` → ``sending`` (claimed by the sender) → ``sent`` (Telegram
confirmed it, with the message ids) or ``failed`` (with the reason), or back to
``pending`` with a later ``next_attempt_at``. Claims left by a crash are released
at the next start, so only messages that were in flight can be sent twice.

`Outbox` is synchronous; `AsyncOutbox` is the sender's `feedbot.telegram.send.sender.Ledger`:
the same calls on the database threads, its writes retried while the server is
unreachable (they record what Telegram already did).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, func, insert, select, update

from feedbot.articles.model import Entry
from feedbot.store.engine import Database
from feedbot.store.lease import Fence
from feedbot.store.schema import chats, deliveries, subscriptions
from feedbot.store.subscriptions import drop_subscriptions

if TYPE_CHECKING:
    from feedbot.store.articles import Articles

__all__ = ["AsyncOutbox", "Delivery", "Done", "Outbox"]

OWED = ("pending", "sending")
# A post Telegram confirmed: (delivery id, message ids, sent at, digest of the post).
Done = tuple[int, Sequence[int], datetime, str | None]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One post owed to one chat, as the ledger holds it."""

    id: int
    article_id: str
    chat: str
    attempts: int
    message_ids: tuple[int, ...]  # pieces already confirmed, in order
    language: str | None  # the chat's language, if known
    thread_id: int = 0  # the forum topic; 0: the whole chat
    kind: str = "post"  # or "digest:<scheduled time>", with the article ids in `payload`
    payload: tuple[str, ...] = ()
    style: str = "full"
    timezone: str | None = None
    quiet: str | None = None
    quiet_action: str = "silent"


def _delivery(r: Any) -> Delivery:
    return Delivery(
        r.id,
        r.article_id,
        r.chat,
        r.attempts,
        tuple(json.loads(r.message_ids)),
        r.language,
        int(r.thread_id),
        r.kind,
        tuple(json.loads(r.payload)) if r.payload else (),
        r.style or "full",
        r.timezone,
        r.quiet,
        r.quiet_action or "silent",
    )


class Outbox:
    """The ``deliveries`` table. Every write passes the leader `Fence` in its own
    transaction (`feedbot.errors.FencedError` once this replica lost the lease)."""

    def __init__(self, db: Database, fence: Fence | None = None) -> None:
        self._db = db
        self._fence = fence or Fence()

    def release_claims(self, keep: Collection[int] = ()) -> int:
        """Put every ``sending`` row (left by a crash, by a claim whose commit was not
        acknowledged, or by a leader that lost the lease) back to ``pending``, but those
        in ``keep``; how many."""
        query = update(deliveries).where(deliveries.c.status == "sending")
        if keep:
            query = query.where(deliveries.c.id.not_in(list(keep)))
        with self._fence.write(self._db) as conn:
            return int(conn.execute(query.values(status="pending")).rowcount)

    def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        """Mark up to ``limit`` due pending rows ``sending`` and return them, oldest first."""
        query = (
            select(
                deliveries.c.id,
                deliveries.c.article_id,
                deliveries.c.chat,
                deliveries.c.attempts,
                deliveries.c.message_ids,
                deliveries.c.thread_id,
                deliveries.c.kind,
                deliveries.c.payload,
                func.coalesce(subscriptions.c.language, chats.c.language).label("language"),
                subscriptions.c.style,
                subscriptions.c.timezone,
                subscriptions.c.quiet,
                subscriptions.c.quiet_action,
            )
            .select_from(
                deliveries.outerjoin(chats, chats.c.id == deliveries.c.chat).outerjoin(
                    subscriptions,
                    and_(
                        subscriptions.c.chat == deliveries.c.chat,
                        subscriptions.c.thread_id == deliveries.c.thread_id,
                    ),
                )
            )
            .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now)
            .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
            .limit(limit)
            # PostgreSQL (READ COMMITTED): lock what we claim, pass over rows another
            # claimer holds. SQLite has no FOR UPDATE: BEGIN IMMEDIATE serialises claims.
            .with_for_update(of=deliveries, skip_locked=True)
        )
        with self._fence.write(self._db) as conn:
            rows = conn.execute(query).all()
            if rows:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_([r.id for r in rows]))
                    .values(status="sending")
                )
        return [_delivery(r) for r in rows]

    def record_progress(self, delivery_id: int, message_ids: Sequence[int]) -> None:
        """Record the pieces of a split post Telegram has confirmed so far."""
        self._set(delivery_id, message_ids=json.dumps(list(message_ids)))

    def mark_sent_many(self, done: Sequence[Done]) -> None:
        """Telegram confirmed these whole posts (`Done`): one transaction."""
        if not done:
            return
        query = (
            update(deliveries)
            .where(deliveries.c.id == bindparam("delivery_id"))
            .values(
                status="sent",
                message_ids=bindparam("ids"),
                sent_at=bindparam("at"),
                rendered=bindparam("digest"),
                error=None,
            )
        )
        rows = [
            {"delivery_id": i, "ids": json.dumps(list(m)), "at": at, "digest": digest}
            for i, m, at, digest in done
        ]
        with self._fence.write(self._db) as conn:
            conn.execute(query, rows)

    def mark_retry(
        self, delivery_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        """Back to ``pending``, due again at ``next_attempt_at``."""
        self._set(
            delivery_id,
            status="pending",
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            error=error,
        )

    def mark_failed(self, delivery_id: int, attempts: int, error: str) -> None:
        """Give up on a delivery, keeping the reason."""
        self._set(delivery_id, status="failed", attempts=attempts, error=error)

    def _set(self, delivery_id: int, **values: Any) -> None:
        with self._fence.write(self._db) as conn:
            conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    def chat_gone(self, chat: str, reason: str) -> None:
        """The chat blocked or removed the bot: unsubscribe it, fail what it was owed."""
        now = datetime.now(UTC)
        with self._fence.write(self._db) as conn:
            drop_subscriptions(conn, chat)
            conn.execute(
                update(chats)
                .where(chats.c.id == chat)
                .values(subscribed=False, unsubscribed_at=now)
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.chat == chat, deliveries.c.status.in_(OWED))
                .values(status="failed", error=reason)
            )

    def thread_gone(self, chat: str, thread_id: int, reason: str) -> None:
        """A forum topic was deleted or closed: drop its subscription, fail what it was
        owed; the chat's other topics keep theirs."""
        with self._fence.write(self._db) as conn:
            drop_subscriptions(conn, chat, thread_id)
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.chat == chat,
                    deliveries.c.thread_id == thread_id,
                    deliveries.c.status.in_(OWED),
                )
                .values(status="failed", error=reason)
            )

    def chat_migrated(self, delivery_id: int, old: str, new: str) -> bool:
        """A group became a supergroup while ``delivery_id`` was being sent to it.

        The subscription and what the old id is owed follow the new id, each row
        keeping its status: a row being sent stays claimed (re-queueing it would
        send it twice). A post the new id already owes is not owed twice. True when
        ``delivery_id`` should go on to the new id."""
        with self._fence.write(self._db) as conn:
            row = conn.execute(select(chats).where(chats.c.id == old)).first()
            if (
                row is not None
                and conn.execute(select(chats.c.id).where(chats.c.id == new)).first() is None
            ):
                values = dict(row._mapping) | {"id": new, "type": "supergroup"}
                conn.execute(insert(chats).values(**values))
                conn.execute(update(chats).where(chats.c.id == old).values(subscribed=False))
                conn.execute(
                    update(subscriptions).where(subscriptions.c.chat == old).values(chat=new)
                )
            owed = select(deliveries.c.article_id).where(deliveries.c.chat == new)
            conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.chat == old,
                    deliveries.c.status.in_(OWED),
                    deliveries.c.article_id.in_(owed),
                )
                .values(status="failed", error=f"chat migrated to {new}, which is owed it already")
            )
            conn.execute(
                update(deliveries)
                .where(deliveries.c.chat == old, deliveries.c.status.in_(OWED))
                .values(chat=new, message_ids="[]")
            )
            mine = conn.execute(
                select(deliveries.c.chat, deliveries.c.status).where(deliveries.c.id == delivery_id)
            ).first()
        return mine is not None and mine.chat == new and mine.status == "sending"


class AsyncOutbox:
    """The ledger for the sender, on the event loop: every call runs on a database thread."""

    def __init__(self, outbox: Outbox, articles: Articles, db: Database) -> None:
        self._outbox = outbox
        self._articles = articles
        self._db = db

    async def release_claims(self, keep: Collection[int] = ()) -> int:
        return await self._db.call(self._outbox.release_claims, keep)

    async def claim_due(self, now: datetime, limit: int) -> list[Delivery]:
        return await self._db.call(self._outbox.claim_due, now, limit)

    async def entry(self, article_id: str) -> Entry | None:
        return await self._db.call(self._articles.entry, article_id)

    async def record_progress(self, delivery_id: int, message_ids: Sequence[int]) -> None:
        await self._db.call_retrying(self._outbox.record_progress, delivery_id, message_ids)

    async def mark_sent_many(self, done: Sequence[Done]) -> None:
        await self._db.call_retrying(self._outbox.mark_sent_many, done)

    async def mark_retry(
        self, delivery_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None:
        await self._db.call_retrying(
            self._outbox.mark_retry, delivery_id, attempts, next_attempt_at, error
        )

    async def mark_failed(self, delivery_id: int, attempts: int, error: str) -> None:
        await self._db.call_retrying(self._outbox.mark_failed, delivery_id, attempts, error)

    async def chat_gone(self, chat: str, reason: str) -> None:
        await self._db.call_retrying(self._outbox.chat_gone, chat, reason)

    async def thread_gone(self, chat: str, thread_id: int, reason: str) -> None:
        await self._db.call_retrying(self._outbox.thread_gone, chat, thread_id, reason)

    async def chat_migrated(self, delivery_id: int, old: str, new: str) -> bool:
        return await self._db.call_retrying(self._outbox.chat_migrated, delivery_id, old, new)
