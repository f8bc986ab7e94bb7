"""The one state machine of the store's two ledgers: the delivery ledger
(`feedbot.store.outbox.Outbox`) and the corrections ledger (`feedbot.store.edits.Edits`).

A row goes ``pending`` → ``sending`` (`Ledger.claim_due`: a drain took it) → done (each
ledger says how: ``sent``, ``done``), ``failed`` (`Ledger.fail`, with the reason), or
back to ``pending``: due again later (`Ledger.retry`), or put back as it was
(`Ledger.release_claims`: a crash, a stop, a leader that lost the lease). Every write
passes the leader `Fence` in its own transaction (`feedbot.errors.FencedError` once
this replica lost the lease).

A ledger is a table and its key column; what a ledger claims (its rows joined with
what the drain needs) and how a row is done are its own.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import Column, Row, Select, Table, update

from feedbot.store.engine import Database
from feedbot.store.lease import Fence

__all__ = ["Ledger"]


class Ledger:
    """Claim, put back, retry and fail the rows of ``table``, keyed by ``key`` (a
    delivery id in both ledgers)."""

    table: ClassVar[Table]
    key: ClassVar[Column[Any]]

    def __init__(self, db: Database, fence: Fence | None = None) -> None:
        self._db = db
        self._fence = fence or Fence()

    def release_claims(self, keep: Collection[int] = ()) -> int:
        """Put every ``sending`` row (left by a crash, by a claim whose commit was not
        acknowledged, or by a leader that lost the lease) back to ``pending``, but those
        in ``keep``; how many."""
        query = update(self.table).where(self.table.c.status == "sending")
        if keep:
            query = query.where(self.key.not_in(list(keep)))
        with self._fence.write(self._db) as conn:
            return int(conn.execute(query.values(status="pending")).rowcount)

    def retry(self, delivery_id: int, attempts: int, next_attempt_at: datetime, error: str) -> None:
        """Back to ``pending``, due again at ``next_attempt_at``."""
        self._set(
            delivery_id,
            status="pending",
            attempts=attempts,
            next_attempt_at=next_attempt_at,
            error=error,
        )

    def fail(self, delivery_id: int, attempts: int, error: str) -> None:
        """Give up on a row (a terminal outcome, or out of attempts), keeping the reason."""
        self._set(delivery_id, status="failed", attempts=attempts, error=error)

    def _claim(self, query: Select[Any]) -> Sequence[Row[Any]]:
        """Run ``query`` (due ``pending`` rows, locked ``FOR UPDATE SKIP LOCKED``, with a
        column named like `key`) and mark the rows it found ``sending``, in one transaction.

        PostgreSQL (READ COMMITTED): the lock passes over rows another claimer holds.
        SQLite has no FOR UPDATE: BEGIN IMMEDIATE serialises claims."""
        with self._fence.write(self._db) as conn:
            rows = conn.execute(query).all()
            if rows:
                keys = [getattr(r, self.key.name) for r in rows]
                conn.execute(update(self.table).where(self.key.in_(keys)).values(status="sending"))
        return rows

    def _set(self, delivery_id: int, **values: Any) -> None:
        with self._fence.write(self._db) as conn:
            conn.execute(update(self.table).where(self.key == delivery_id).values(**values))
