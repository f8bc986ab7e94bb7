"""Telegram updates a follower received by webhook, waiting for the leader.

In webhook mode a load balancer may hand an update to any replica, but only the
leader talks to Telegram: a follower stores the update here (any replica may
push) and the leader takes updates out in arrival order and handles them
itself, so every reply passes the leader's one rate limiter and the deployment
stays under Telegram's 30 messages/s and per-chat limits. Taking is a leader
write, fenced like the ledger; a taken update is handled at most once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select

from feedbot.store.engine import Database
from feedbot.store.lease import Fence
from feedbot.store.schema import inbox

__all__ = ["Inbox"]


class Inbox:
    """The ``inbox`` table."""

    def __init__(self, db: Database, fence: Fence | None = None) -> None:
        self._db = db
        self._fence = fence or Fence()

    def push(self, update: str) -> None:
        """Keep one update (its JSON text) for the leader."""
        with self._db.write() as conn:
            conn.execute(insert(inbox).values(payload=update, received_at=datetime.now(UTC)))

    def take(self, limit: int = 100) -> list[str]:
        """Remove and return up to ``limit`` updates, oldest first (leader only)."""
        query = select(inbox.c.id, inbox.c.payload).order_by(inbox.c.id).limit(limit)
        with self._fence.write(self._db) as conn:
            if conn.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = conn.execute(query).all()
            if rows:
                conn.execute(delete(inbox).where(inbox.c.id.in_([r.id for r in rows])))
        return [r.payload for r in rows]
