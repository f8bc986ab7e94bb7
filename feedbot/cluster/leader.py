"""Leadership: which replica scans, sends and polls Telegram.

`Leadership.run` keeps this replica's side of the lease (`feedbot.store.lease`): a
follower tries to take it every ``renew_interval``; the leader renews it as often.
Each new term arms the store's `Fence` with its epoch, and each loss drops it, so
leader-only writes stop at once. The daemon watches `Leadership.changed` and starts
or stops the leader's duties (`feedbot.runtime.daemon`).

The leader also keeps a local deadline: the moment its lease would expire if the
last renewal it saw succeed was its last (measured from *before* that renewal was
sent, by this process's monotonic clock). `may_act` says whether that moment is
still ahead; the Telegram HTTP layer asks it right before every message is written
(`feedbot.telegram.send.request.LeaderRequest`, after the rate limiter), so a leader
that was paused (SIGSTOP, a long GC, a frozen VM) and wakes after losing the lease
sends nothing more, even before its next database round trip says so.

On SQLite one daemon owns the database file: it leads from the start, without a
lease.

Each replica also holds its name (`NameClaim`): a lease row ``replica:<name>`` held by
this process (host, pid and a random tag) and renewed with the leader lease. A replica
started under a name that another live process holds (one that renewed it within
``lease_seconds``) is refused; a clean stop lets the name go at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import socket
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from feedbot.config import ClusterSettings
from feedbot.errors import FeedbotError, StoreError
from feedbot.store import Store
from feedbot.store.lease import LeaseView

__all__ = ["Leadership", "NameClaim", "NameClashError", "default_replica_name"]

log = logging.getLogger("feedbot.leader")

SAFETY = 0.25  # seconds of the lease not counted on locally (scheduling, clock rates)
NAME_PREFIX = "replica:"  # the lease rows of replica names
NAME_KEPT = 86400.0  # seconds an expired name's row stays (a crashed replica's), then goes


def default_replica_name() -> str:
    """Host name and process id: unique among replicas on one database."""
    return f"{socket.gethostname()}-{os.getpid()}"


class NameClashError(FeedbotError):
    """Another live process holds this replica's name (``holder`` says which)."""

    def __init__(self, name: str, holder: str, age: float | None, remaining: float) -> None:
        renewed = "" if age is None else f", renewed {age:.1f} s ago"
        super().__init__(
            f"cluster.replica_name {name!r} is in use by another live replica ({holder}"
            f"{renewed}); give every replica its own cluster.replica_name, or, if that "
            f"replica has just died, start this one again in {math.ceil(max(remaining, 1))} s"
        )
        self.name = name
        self.holder = holder


class NameClaim:
    """This process's hold on its replica name: the lease row ``replica:<name>``."""

    def __init__(self, store: Store, name: str, length: float) -> None:
        self.name = name
        self.holder = f"{socket.gethostname()} pid {os.getpid()} #{secrets.token_hex(3)}"
        self._lease = store.lease(f"{NAME_PREFIX}{name}")
        self._length = length
        self._epoch: int | None = None
        self.taken_by: str | None = None  # another process that holds the name meanwhile

    def take(self) -> None:
        """At start: hold the name, or raise `NameClashError` when a live process holds it."""
        self._lease.prune(NAME_PREFIX, NAME_KEPT)
        epoch = self._lease.acquire(self.holder, self._length)
        if epoch is None:
            view = self._lease.view()
            raise NameClashError(self.name, str(view.holder), view.age, view.remaining or 0.0)
        self._epoch = epoch

    def keep(self) -> None:
        """Renew the name (take it again if it lapsed, say after a pause); logs at ERROR
        when another process took it meanwhile."""
        if self._epoch is not None and self._lease.renew(self.holder, self._epoch, self._length):
            return
        epoch = self._lease.acquire(self.holder, self._length)
        if epoch is not None:
            self._epoch = epoch
            if self.taken_by is not None:
                log.info("replica name %r is this process's again", self.name)
            self.taken_by = None
            return
        holder = self._lease.view().holder
        if self.taken_by != holder:
            log.error(
                "replica name %r was taken by another process (%s) while this one (%s) did not "
                "renew it: two replicas share the name; give each its own cluster.replica_name",
                self.name,
                holder,
                self.holder,
            )
        self.taken_by = holder

    def release(self) -> None:
        """Let the name go (a clean stop: a replica started under it again is not refused)."""
        if self._epoch is not None:
            self._lease.forget(self.holder)
            self._epoch = None


class Leadership:
    """This replica's role; `run` keeps it up to date until the daemon stops."""

    def __init__(
        self,
        store: Store,
        settings: ClusterSettings,
        registry: CollectorRegistry,
        *,
        solo: bool,
    ) -> None:
        self.me = settings.replica_name or default_replica_name()
        self.solo = solo
        self.name = None if solo else NameClaim(store, self.me, settings.lease_seconds)
        self._store = store
        self._lease = store.lease()
        self._length = settings.lease_seconds
        self._interval = settings.renew_interval
        self.epoch: int | None = None
        self.leading = False
        self.changed = asyncio.Event()  # set on every change of `leading`
        self._valid_until = 0.0  # monotonic: our lease surely holds until then
        self._view = LeaseView(None, 0, None, None)
        self._seen_at = 0.0  # monotonic time of `_view`
        self._wake = asyncio.Event()
        self.db_error: str | None = None  # the lease's last database failure, if any
        self._gauge = Gauge(
            "feedbot_leader", "1 when this replica leads, else 0.", registry=registry
        )
        self._changes = Counter(
            "feedbot_leadership_changes",
            "Times this replica became leader or stopped leading.",
            ["to"],
            registry=registry,
        )
        for to in ("leader", "follower"):
            self._changes.labels(to)
        if solo:
            self._gain(0)

    # --- what the rest of the daemon asks -------------------------------------------------

    def may_act(self) -> bool:
        """True while this replica surely still holds the lease (checked before each send)."""
        return self.leading and (self.solo or time.monotonic() < self._valid_until)

    def step_down(self, reason: str) -> None:
        """A leader-only write was fenced: stop leading now (the lease loop may win again)."""
        if self.leading:
            self._lose(reason)
            self._wake.set()

    def health(self) -> dict[str, Any]:
        """The `/healthz` part: role, leader, lease age."""
        if self.solo:
            return {"role": "leader", "replica": self.me, "leader": self.me, "lease": None}
        view = self._view
        age = None
        if view.age is not None:
            age = round(view.age + (time.monotonic() - self._seen_at), 3)
        return {
            "role": "leader" if self.leading else "follower",
            "replica": self.me,
            "leader": view.holder if view.live else None,
            "lease": {
                "holder": view.holder,
                "epoch": view.epoch,
                "age_seconds": age,
                "expired": not view.live,
                "error": None if self.db_error is None else "database unreachable",
            },
        }

    # --- the loop ---------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event) -> None:
        """Hold or chase the lease until ``stopping`` is set (then `release`)."""
        if self.solo:
            return
        self._store.arm_fence()
        log.info("replica %s: lease %gs, renewed every %gs", self.me, self._length, self._interval)
        while not stopping.is_set():
            await self._turn()
            self._wake.clear()
            waits = [asyncio.ensure_future(e.wait()) for e in (stopping, self._wake)]
            await asyncio.wait(waits, timeout=self._interval, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()

    async def _turn(self) -> None:
        store = self._store
        started = time.monotonic()
        try:
            if self.leading and self.epoch is not None:
                if await store.call(self._lease.renew, self.me, self.epoch, self._length):
                    self._valid_until = started + self._length - SAFETY
                else:
                    self._lose("the lease was lost")
            else:
                epoch = await store.call(self._lease.acquire, self.me, self._length)
                if epoch is not None:
                    self._valid_until = started + self._length - SAFETY
                    self._gain(epoch)
            self._view = await store.call(self._lease.view)
            self._seen_at = time.monotonic()
            if self.name is not None:
                await store.call(self.name.keep)
            if self.db_error is not None:
                log.info("lease: the database answers again")
            self.db_error = None
        except StoreError as e:
            if self.db_error is None:
                log.error("lease: cannot reach the database: %s", e)
            self.db_error = str(e)
            if self.leading and time.monotonic() >= self._valid_until - self._interval:
                self._lose("the lease could not be renewed in time")

    def _gain(self, epoch: int) -> None:
        self.epoch, self.leading = epoch, True
        self._view, self._seen_at = LeaseView(self.me, epoch, 0.0, self._length), time.monotonic()
        self._store.hold_fence(self.me, epoch)
        self._gauge.set(1)
        self._changes.labels("leader").inc()
        if not self.solo:
            log.warning("replica %s is now the leader (epoch %d)", self.me, epoch)
        self.changed.set()

    def _lose(self, reason: str) -> None:
        self._store.drop_fence()
        self.leading = False
        self._gauge.set(0)
        self._changes.labels("follower").inc()
        log.warning("replica %s stopped leading (epoch %s): %s", self.me, self.epoch, reason)
        self.changed.set()

    def claim_name(self) -> None:
        """At start, before serving: hold this replica's name (`NameClaim.take`; raises
        `NameClashError` when another live replica holds it). Nothing to do on SQLite."""
        if self.name is not None:
            self.name.take()

    def release_name(self) -> None:
        """Let the name go now, if still held (off the event loop; errors are logged)."""
        if self.name is not None:
            try:
                self.name.release()
            except StoreError as e:
                log.warning("could not release the replica name (it expires by itself): %s", e)

    async def release(self) -> None:
        """At a clean stop, after the leader's duties stopped: let the lease go, so another
        replica takes over at once instead of after it expires; and let the name go."""
        await self._store.call(self.release_name)
        if self.solo or not self.leading or self.epoch is None:
            return
        self._store.drop_fence()
        self.leading = False
        try:
            await self._store.call(self._lease.release, self.me, self.epoch)
        except StoreError as e:
            log.warning("could not release the lease (it expires by itself): %s", e)
        else:
            log.info("replica %s released the lease", self.me)
