"""Digests into the ledger: for each digest subscription that is due, one delivery
listing the articles first seen since its previous digest, newest first.

`Digests.queue_due` is the leader's periodic job. Its transactions are fenced by the
leadership lease like every ledger write; within one, each subscription's digest
row (kind ``digest:<scheduled instant>``, so one per schedule slot however often the
job runs) and the move of ``next_digest_at`` to the following slot commit together,
or not at all. A daemon that was down at the scheduled time finds the slot overdue
and sends it late, once; the slot after is computed from now, so missed slots are
not sent one by one. Nothing new, nothing sent (the slot still moves on).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, select, update

from feedbot.articles.filters import article_words, matches
from feedbot.articles.model import Article, article_from_dict
from feedbot.store.engine import Database
from feedbot.store.lease import Fence
from feedbot.store.schema import articles, deliveries, insert_on, subscriptions
from feedbot.store.subscriptions import Subscription, subscription_from_row

__all__ = ["MAX_DIGEST_ARTICLES", "Digests"]

MAX_DIGEST_ARTICLES = 50  # the newest ones, when more arrived since the previous digest
BATCH = 500  # subscriptions handled in one transaction
NextSlot = Callable[[Subscription, datetime], datetime | None]


def _takes(sub: Subscription, article: Article) -> bool:
    if sub.languages and article.language not in sub.languages:
        return False
    return not sub.terms or matches(sub.terms, article_words(article))


class Digests:
    """Due digest subscriptions → digest deliveries (fenced)."""

    def __init__(
        self, db: Database, fence: Fence | None = None, *, articles: Database | None = None
    ) -> None:
        self._db = db
        self._fence = fence or Fence()
        self._articles = articles  # where the articles are when not in ``db`` (a sidecar)

    def due(self, now: datetime) -> list[Subscription]:
        """Digest subscriptions whose slot has come, the longest overdue first (all of
        them: ten thousand chats may share a minute, and the sender should have them all)."""
        query = (
            select(subscriptions)
            .where(subscriptions.c.mode == "digest", subscriptions.c.next_digest_at <= now)
            .order_by(subscriptions.c.next_digest_at)
        )
        with self._db.read() as conn:
            return [subscription_from_row(r) for r in conn.execute(query)]

    @staticmethod
    def _candidates(
        conn: Connection, since: datetime | None, now: datetime
    ) -> list[tuple[datetime, Article]]:
        """The articles any of the due digests may list, newest first, each parsed once."""
        query = (
            select(articles.c.first_seen, articles.c.body)
            .where(articles.c.removed_at.is_(None), articles.c.first_seen <= now)
            .order_by(articles.c.date.desc(), articles.c.seq.desc(), articles.c.id.desc())
            .limit(MAX_DIGEST_ARTICLES * 4)
        )
        if since is not None:
            query = query.where(articles.c.first_seen > since)
        return [(r.first_seen, article_from_dict(json.loads(r.body))) for r in conn.execute(query)]

    def _read_candidates(
        self, conn: Connection, since: datetime | None, now: datetime
    ) -> list[tuple[datetime, Article]]:
        if self._articles is None:
            return self._candidates(conn, since, now)
        with self._articles.read() as other:
            return self._candidates(other, since, now)

    def queue_due(self, now: datetime, next_slot: NextSlot) -> int:
        """Queue every due digest, `BATCH` subscriptions a fenced transaction: each one's
        digest row and the move to its next slot commit together. A subscription changed
        meanwhile (its slot or version moved) is left for the next pass. How many
        digests were queued."""
        due = self.due(now)
        if not due:
            return 0
        starts = [s.last_digest_at for s in due]
        since = None if any(t is None for t in starts) else min(t for t in starts if t)
        candidates: list[tuple[datetime, Article]] | None = None
        queued = 0
        for i in range(0, len(due), BATCH):
            with self._fence.write(self._db) as conn:
                if candidates is None:  # inside the write lock (SQLite): none half-written
                    candidates = self._read_candidates(conn, since, now)
                for sub in due[i : i + BATCH]:
                    queued += self._queue(conn, sub, now, next_slot, candidates)
        return queued

    def _queue(
        self,
        conn: Connection,
        sub: Subscription,
        now: datetime,
        next_slot: NextSlot,
        candidates: list[tuple[datetime, Article]],
    ) -> bool:
        slot = sub.next_digest_at
        assert slot is not None
        moved = conn.execute(
            update(subscriptions)
            .where(
                subscriptions.c.chat == sub.chat,
                subscriptions.c.thread_id == sub.thread_id,
                subscriptions.c.version == sub.version,
                subscriptions.c.next_digest_at == slot,
            )
            .values(next_digest_at=next_slot(sub, now), last_digest_at=now)
        )
        if not moved.rowcount:
            return False
        since = sub.last_digest_at
        chosen = [
            a for seen, a in candidates if (since is None or seen > since) and _takes(sub, a)
        ][:MAX_DIGEST_ARTICLES]
        if not chosen:
            return False  # nothing new: nothing sent, the slot moves on
        conn.execute(
            insert_on(conn, deliveries)
            .values(
                article_id=chosen[0].id,
                chat=sub.chat,
                thread_id=sub.thread_id,
                kind=f"digest:{slot.isoformat()}",
                payload=json.dumps([a.id for a in chosen]),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                message_ids="[]",
                created_at=now,
            )
            .on_conflict_do_nothing()
        )
        return True
