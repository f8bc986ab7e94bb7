"""The corrections ledger: the edits owed to messages already sent.

One ``edits`` row per delivery at most. A save of an article that was posted
upserts ``edit`` for each of its deliveries; a removal upserts ``mark`` or
``delete``. The upsert bumps ``wanted`` and pushes ``next_attempt_at`` back to
`EDIT_QUIET` after the save, so five saves in a few seconds make one edit, rendered
from the last version when the editor takes it. A row is claimed (``pending`` →
``sending``) only once its delivery is ``sent``: an edit never overtakes the send it
corrects. A row saved again while being sent stays claimed and goes back to
``pending`` when that edit is recorded (its ``wanted`` moved on), so the newer
version follows. Every write passes the leader `Fence` in its own transaction.

Claiming, putting back, retrying and failing are the state machine both ledgers share
(`feedbot.store.ledger.Ledger`). `Edits` is synchronous: the editor holds it as its
`feedbot.telegram.send.editor.EditLedger` and runs each call on a database thread.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Connection, and_, case, func, select, update

from feedbot.articles.model import Entry, article_from_dict
from feedbot.store.ledger import Ledger
from feedbot.store.schema import articles, chats, deliveries, edits, insert_on, subscriptions

__all__ = ["EDIT_QUIET", "Edit", "Edits", "Publishing", "queue_edits"]

EDIT_QUIET = timedelta(seconds=2)  # an edit waits this long after the last save
Action = Literal["edit", "mark", "delete"]


@dataclass(frozen=True, slots=True)
class Publishing:
    """What a save or a removal of a posted article does, how long posts wait, and the
    channels every new article is posted to besides the subscriptions."""

    on_edit: Literal["edit", "ignore"] = "edit"
    on_remove: Literal["keep", "mark", "delete"] = "mark"
    delay: timedelta = timedelta(0)
    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Edit:
    """One correction owed to the messages of one delivery."""

    delivery_id: int
    article_id: str
    chat: str
    action: str  # edit | mark | delete
    wanted: int  # the request this claim answers (see `Edits.finish`)
    attempts: int
    message_ids: tuple[int, ...]
    sent_at: datetime | None
    rendered: str | None  # digest of the post the messages show now
    language: str | None
    thread_id: int = 0  # the forum topic; 0: the whole chat
    style: str = "full"  # the subscription's post style


def queue_edits(
    conn: Connection, article_ids: Collection[str], action: Action, now: datetime
) -> int:
    """Owe ``action`` to every delivery of ``article_ids`` not failed (inside the caller's
    transaction): one row per delivery, the newest request wins. How many rows."""
    if not article_ids:
        return 0
    owed = conn.execute(
        select(deliveries.c.id).where(
            deliveries.c.article_id.in_(list(article_ids)),
            deliveries.c.status != "failed",
            deliveries.c.kind == "post",  # digests already sent are not edited
        )
    ).all()
    if not owed:
        return 0
    due = now + EDIT_QUIET
    rows = [
        {
            "delivery_id": r.id,
            "action": action,
            "status": "pending",
            "wanted": 1,
            "attempts": 0,
            "next_attempt_at": due,
            "updated_at": now,
        }
        for r in owed
    ]
    query = insert_on(conn, edits)
    query = query.on_conflict_do_update(
        index_elements=[edits.c.delivery_id],
        set_={
            "action": query.excluded.action,
            "wanted": edits.c.wanted + 1,
            "attempts": 0,
            "error": None,
            "next_attempt_at": query.excluded.next_attempt_at,
            "updated_at": query.excluded.updated_at,
            # a row being sent stays claimed; `finish` sees ``wanted`` moved on
            "status": case((edits.c.status == "sending", "sending"), else_="pending"),
        },
    )
    conn.execute(query, rows)
    return len(rows)


class Edits(Ledger):
    """The ``edits`` table (and the delivery columns a correction rewrites)."""

    table = edits
    key = edits.c.delivery_id

    def claim_due(self, now: datetime, limit: int) -> list[Edit]:
        """Claim up to ``limit`` due rows whose delivery was sent, oldest first."""
        query = (
            select(
                edits.c.delivery_id,
                edits.c.action,
                edits.c.wanted,
                edits.c.attempts,
                deliveries.c.article_id,
                deliveries.c.chat,
                deliveries.c.message_ids,
                deliveries.c.sent_at,
                deliveries.c.rendered,
                deliveries.c.thread_id,
                func.coalesce(subscriptions.c.language, chats.c.language).label("language"),
                subscriptions.c.style,
            )
            .select_from(
                edits.join(deliveries, deliveries.c.id == edits.c.delivery_id)
                .outerjoin(chats, chats.c.id == deliveries.c.chat)
                .outerjoin(
                    subscriptions,
                    and_(
                        subscriptions.c.chat == deliveries.c.chat,
                        subscriptions.c.thread_id == deliveries.c.thread_id,
                    ),
                )
            )
            .where(
                edits.c.status == "pending",
                edits.c.next_attempt_at <= now,
                deliveries.c.status == "sent",
            )
            .order_by(edits.c.next_attempt_at, edits.c.delivery_id)
            .limit(limit)
            .with_for_update(of=edits, skip_locked=True)
        )
        return [
            Edit(
                r.delivery_id,
                r.article_id,
                r.chat,
                r.action,
                r.wanted,
                r.attempts,
                tuple(json.loads(r.message_ids)),
                r.sent_at,
                r.rendered,
                r.language,
                int(r.thread_id),
                r.style or "full",
            )
            for r in self._claim(query)
        ]

    def article(self, article_id: str) -> tuple[Entry, bool] | None:
        """An article as the editor needs it, removed or not: (entry, removed)."""
        query = select(articles.c.body, articles.c.updated, articles.c.removed_at).where(
            articles.c.id == article_id
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        entry = Entry(article=article_from_dict(json.loads(row.body)), updated=row.updated)
        return entry, row.removed_at is not None

    def record_messages(
        self, delivery_id: int, message_ids: Sequence[int], rendered: str | None
    ) -> None:
        """The delivery's messages now are ``message_ids`` (a piece added or deleted)."""
        with self._fence.write(self._db) as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(message_ids=json.dumps(list(message_ids)), rendered=rendered)
            )

    def finish(
        self, delivery_id: int, wanted: int, message_ids: Sequence[int], rendered: str | None
    ) -> bool:
        """The edit claimed as ``wanted`` is done: record what the messages show. True when
        the row is done; False when a newer request came meanwhile (back to ``pending``)."""
        with self._fence.write(self._db) as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(message_ids=json.dumps(list(message_ids)), rendered=rendered)
            )
            done = conn.execute(
                update(edits)
                .where(edits.c.delivery_id == delivery_id, edits.c.wanted == wanted)
                .values(status="done", error=None)
            ).rowcount
            if not done:
                conn.execute(
                    update(edits)
                    .where(edits.c.delivery_id == delivery_id, edits.c.status == "sending")
                    .values(status="pending")
                )
        return bool(done)

    def rows(self, article_id: str) -> list[dict[str, Any]]:
        """Every edit row of one article's deliveries (for `feedbot show` and checks)."""
        query = (
            select(edits, deliveries.c.chat)
            .select_from(edits.join(deliveries, deliveries.c.id == edits.c.delivery_id))
            .where(deliveries.c.article_id == article_id)
            .order_by(deliveries.c.chat)
        )
        with self._db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
