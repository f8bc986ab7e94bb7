"""The leader lease and the fence every leader-only write passes.

Replicas on one PostgreSQL database elect a leader through one row of ``leases``
(the model is Oban's ``Peer``): the holder renews it before it expires; another
replica takes it only once it has expired, and every new holder raises the
``epoch`` — the fencing token. Expiry is judged by the DATABASE's clock
(``clock_timestamp()``), so the replicas' clocks may disagree freely.

`Fence` makes the leader's writes conditional on still holding the lease: each
write transaction first locks the lease row ``FOR SHARE`` where ``holder`` and
``epoch`` are ours and it has not expired, else raises `FencedError`. A take-over
updates that row, so it waits for writes in flight and every write after it sees
the new holder: a leader that was paused and wakes up cannot claim or record
anything. On SQLite one daemon owns the file (`feedbot.store.dbfile.DbLock`): no lease
runs and the fence stays open.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    and_,
    delete,
    literal_column,
    select,
    text,
    update,
)

from feedbot.errors import FencedError, StoreError
from feedbot.store.engine import Database
from feedbot.store.schema import insert_on, leases

__all__ = ["LEADER", "Fence", "Lease", "LeaseView"]

LEADER = "leader"
LOCK_WAIT = 1.0  # seconds a take-over waits for the lease row

log = logging.getLogger("feedbot.leader")


def _lock_timeout(error: StoreError) -> bool:
    """The statement gave up waiting for a lock (PostgreSQL's lock_timeout)."""
    orig = getattr(error.__cause__, "orig", None)
    return getattr(orig, "sqlstate", None) == "55P03"


def _now(conn: Connection) -> ColumnElement[float]:
    """The database's clock in seconds since the epoch."""
    if conn.dialect.name == "postgresql":
        return literal_column("extract(epoch from clock_timestamp())", Float)
    return literal_column("((julianday('now') - 2440587.5) * 86400.0)", Float)


def _ours(name: str, me: str, epoch: int) -> ColumnElement[bool]:
    return and_(leases.c.name == name, leases.c.holder == me, leases.c.epoch == epoch)


@dataclass(frozen=True, slots=True)
class LeaseView:
    """Who holds a lease, as the database sees it now."""

    holder: str | None  # None: nobody ever took it
    epoch: int
    age: float | None  # seconds since the holder last renewed it
    remaining: float | None  # seconds until it expires (negative: expired)

    @property
    def live(self) -> bool:
        return self.remaining is not None and self.remaining > 0


class Lease:
    """The SQL of one named lease."""

    def __init__(self, db: Database, name: str = LEADER) -> None:
        self._db = db
        self.name = name

    def acquire(self, me: str, length: float) -> int | None:
        """Take the lease when nobody holds it or it expired: the new epoch, else None.

        On PostgreSQL a take-over waits at most `LOCK_WAIT` for writes holding the lease
        row. A replica paused in the middle of a write (SIGSTOP between two messages of
        a statement) would hold it for ever — the server's idle-in-transaction timeout
        does not see a half-sent statement — so once the lease has expired, sessions that
        hold a lock on ``leases`` in a transaction older than `LOCK_WAIT` are ended (safe:
        a write under an expired lease must not commit anyway) and the take-over is tried
        once more."""
        try:
            return self._take(me, length)
        except StoreError as e:
            if not _lock_timeout(e):
                raise
        if self._end_stale_sessions():
            with contextlib.suppress(StoreError):
                return self._take(me, length)
        return None

    def _take(self, me: str, length: float) -> int | None:
        with self._db.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL lock_timeout = {int(LOCK_WAIT * 1000)}"))
            now = _now(conn)
            query = insert_on(conn, leases).values(
                name=self.name,
                holder=me,
                epoch=1,
                acquired_at=now,
                renewed_at=now,
                expires_at=now + length,
            )
            query = query.on_conflict_do_update(
                index_elements=[leases.c.name],
                set_={
                    "holder": query.excluded.holder,
                    "epoch": leases.c.epoch + 1,
                    "acquired_at": query.excluded.acquired_at,
                    "renewed_at": query.excluded.renewed_at,
                    "expires_at": query.excluded.expires_at,
                },
                where=leases.c.expires_at <= query.excluded.acquired_at,
            )
            row = conn.execute(query.returning(leases.c.epoch)).first()
        return None if row is None else int(row[0])

    def _end_stale_sessions(self) -> int:
        """End the sessions that keep an expired lease's row locked; how many."""
        with self._db.write() as conn:
            expired = conn.execute(
                select(1).where(leases.c.name == self.name, leases.c.expires_at <= _now(conn))
            ).first()
            if expired is None:
                return 0
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(a.pid) FROM pg_stat_activity a "
                    "WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
                    "AND a.xact_start < now() - make_interval(secs => :age) "
                    "AND a.pid IN (SELECT l.pid FROM pg_locks l "
                    "WHERE l.relation = 'leases'::regclass AND l.granted)"
                ),
                {"age": LOCK_WAIT},
            ).all()
        if ended:
            log.warning(
                "ended %d database session(s) of a paused replica that held the expired lease",
                len(ended),
            )
        return len(ended)

    def renew(self, me: str, epoch: int, length: float) -> bool:
        """Extend our unexpired lease by ``length`` seconds from now; False when it is lost."""
        with self._db.write() as conn:
            now = _now(conn)
            done = conn.execute(
                update(leases)
                .where(_ours(self.name, me, epoch), leases.c.expires_at > now)
                .values(renewed_at=now, expires_at=now + length)
            )
            return done.rowcount == 1

    def release(self, me: str, epoch: int) -> None:
        """Let the lease expire now (a clean stop: another replica takes over at once)."""
        with self._db.write() as conn:
            conn.execute(
                update(leases).where(_ours(self.name, me, epoch)).values(expires_at=_now(conn))
            )

    def forget(self, me: str) -> None:
        """Delete the lease's row while ``me`` holds it (a replica's name at a clean stop:
        a row per name would otherwise stay for ever)."""
        with self._db.write() as conn:
            conn.execute(delete(leases).where(leases.c.name == self.name, leases.c.holder == me))

    def prune(self, prefix: str, idle: float) -> int:
        """Delete the leases named ``prefix…`` that expired more than ``idle`` seconds ago
        (names of replicas that crashed); how many."""
        with self._db.write() as conn:
            done = conn.execute(
                delete(leases).where(
                    leases.c.name.startswith(prefix, autoescape=True),
                    leases.c.expires_at < _now(conn) - idle,
                )
            )
            return done.rowcount

    def view(self) -> LeaseView:
        """The holder, epoch, renewal age and time left."""
        with self._db.read() as conn:
            now = _now(conn)
            query = select(
                leases.c.holder,
                leases.c.epoch,
                now - leases.c.renewed_at,
                leases.c.expires_at - now,
            ).where(leases.c.name == self.name)
            row = conn.execute(query).first()
        if row is None:
            return LeaseView(None, 0, None, None)
        return LeaseView(str(row[0]), int(row[1]), float(row[2]), float(row[3]))


class Fence:
    """Guards leader-only writes: open until `arm` (one daemon on SQLite, tests);
    armed, a write needs the lease held under the token given to `hold`."""

    def __init__(self, name: str = LEADER) -> None:
        self.name = name
        self.armed = False
        self._token: tuple[str, int] | None = None

    def arm(self) -> None:
        """From now on, writes need the lease (replicas on PostgreSQL)."""
        self.armed = True

    def hold(self, holder: str, epoch: int) -> None:
        """This replica now leads under ``epoch``."""
        self._token = (holder, epoch)

    def drop(self) -> None:
        """This replica no longer leads: every fenced write fails without asking."""
        self._token = None

    @contextmanager
    def write(self, db: Database) -> Iterator[Connection]:
        """A write transaction on ``db`` that passes this fence first: every leader-only
        write of the store opens its transaction here."""
        with db.write() as conn:
            self.check(conn)
            yield conn

    def check(self, conn: Connection) -> None:
        """Inside a write transaction: raise `FencedError` unless we still hold the lease;
        on PostgreSQL the lease row stays share-locked until the transaction ends."""
        if not self.armed:
            return
        token = self._token
        if token is None:
            raise FencedError("this replica is not the leader")
        query = select(1).where(_ours(self.name, *token), leases.c.expires_at > _now(conn))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(read=True)  # FOR SHARE
        if conn.execute(query).first() is None:
            raise FencedError(f"the leader lease of epoch {token[1]} is lost")
