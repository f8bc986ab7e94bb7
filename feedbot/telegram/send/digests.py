"""The leader's digest job: once a minute (APScheduler), queue the digests that are due
and wake the sender. It runs only while this replica leads and the bot is up; its
writes are fenced, so a replica that lost the lease queues nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from feedbot.errors import FencedError, StoreError
from feedbot.runtime.jobs import guarded
from feedbot.store.digests import Digests
from feedbot.store.subscriptions import Subscription
from feedbot.telegram.schedule import ScheduleError, next_digest, parse_digest, timezone
from feedbot.telegram.send.drain import Offload

__all__ = ["DigestJob", "next_slot"]

log = logging.getLogger("feedbot.telegram.digest_job")

INTERVAL = 60.0  # seconds between looks for due digests


def next_slot(default_timezone: str) -> Callable[[Subscription, datetime], datetime | None]:
    """The function that gives a subscription's next digest instant after ``now``."""

    def slot(sub: Subscription, now: datetime) -> datetime | None:
        try:
            zone = timezone(sub.timezone or default_timezone)
            return next_digest(parse_digest(sub.digest or ""), zone, now)
        except ScheduleError as e:  # stored settings are checked; never stop the job
            log.warning("subscription %s/%d: no next digest: %s", sub.chat, sub.thread_id, e)
            return None

    return slot


class DigestJob:
    """Queue due digests now and then; `tick` is one pass (on a database thread, through
    ``offload``: `feedbot.store.Store`)."""

    def __init__(
        self,
        digests: Digests,
        offload: Offload,
        *,
        default_timezone: str,
        wake: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_fenced: Callable[[str], None] | None = None,
    ) -> None:
        self._digests = digests
        self._offload = offload
        self._slot = next_slot(default_timezone)
        self._wake = wake
        self._clock = clock
        self.on_fenced = on_fenced
        self._scheduler: AsyncIOScheduler | None = None

    async def tick(self) -> int:
        """Queue every digest due now; how many were queued."""
        try:
            queued = await self._offload.call(self._digests.queue_due, self._clock(), self._slot)
        except FencedError as e:
            log.warning("digests: %s", e)
            if self.on_fenced is not None:
                self.on_fenced(str(e))
            return 0
        except StoreError as e:  # the database logs the outage; the next tick retries
            log.warning("digests: cannot queue: %s", e)
            return 0
        if queued:
            log.info("queued %d digests", queued)
            self._wake()
        return queued

    def start(self) -> None:
        """Tick now and every `INTERVAL` seconds."""
        if self._scheduler is not None:
            return
        scheduler = self._scheduler = AsyncIOScheduler(
            timezone=UTC, event_loop=asyncio.get_running_loop()
        )
        scheduler.add_job(
            guarded("digests", self.tick),
            "interval",
            seconds=INTERVAL,
            next_run_time=datetime.now(UTC),
            coalesce=True,
            max_instances=1,
            id="digests",
        )
        scheduler.start()

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
