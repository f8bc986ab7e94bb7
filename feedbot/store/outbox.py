"""The delivery ledger (an outbox): one row per post owed to a chat.

A row goes ``pending`` → ``sending`` (claimed by the sender) → ``sent`` (Telegram
confirmed it, with the message ids) or ``failed`` (with the reason), or back to
``pending`` with a later ``next_attempt_at``. Claims left by a crash are released
at the next start, so only messages that were in flight can be sent twice.

The claiming, putting back, retrying and failing are the one state machine of both
ledgers (`feedbot.store.ledger.Ledger`). `Outbox` is synchronous: the sender holds it as
its `feedbot.telegram.send.sender.Ledger` and runs each call on a database thread.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update

from feedbot.articles.model import Entry
from feedbot.store.articles import Articles
from feedbot.store.engine import Database
from feedbot.store.lease import Fence
from feedbot.store.ledger import Ledger
from feedbot.store.schema import chats, deliveries, subscriptions
from feedbot.store.subscriptions import drop_subscriptions

__all__ = ["Delivery", "Done", "Outbox"]

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


class Outbox(Ledger):
    """The ``deliveries`` table. Every write passes the leader `Fence` in its own
    transaction (`feedbot.errors.FencedError` once this replica lost the lease)."""

    table = deliveries
    key = deliveries.c.id

    def __init__(self, db: Database, articles: Articles, fence: Fence | None = None) -> None:
        super().__init__(db, fence)
        self._articles = articles

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
            .with_for_update(of=deliveries, skip_locked=True)
        )
        return [_delivery(r) for r in self._claim(query)]

    def entry(self, article_id: str) -> Entry | None:
        """The entry of one article not removed, or None (what a post shows)."""
        return self._articles.entry(article_id)

    def record_progress(self, delivery_id: int, message_ids: Sequence[int]) -> None:
        """Record the pieces of a split post Telegram has confirmed so far."""
        self._set(delivery_id, message_ids=json.dumps(list(message_ids)))

    def finish_many(self, done: Sequence[Done]) -> None:
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
