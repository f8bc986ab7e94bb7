"""The daemon: drives the store, index, scheduler, watcher, web and bot it is given.

Everything runs in one asyncio loop, and nothing blocking runs on it: scans run in
a worker thread and are serialized by a lock; the site renders on the store's
database threads; the bot and the sender reach the store through its async parts.
The APScheduler interval job, the file watcher (inotify on Linux, watchfiles
elsewhere) and the settle re-check all call the same `Daemon.scan`. A probe
records the loop's lag in ``/metrics``. Optional components (the Telegram bot)
plug in through `Component`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]
from prometheus_client import CollectorRegistry

from feedbot.cluster.catchup import CatchUp
from feedbot.cluster.leader import Leadership
from feedbot.config import IndexSettings
from feedbot.errors import FencedError, StoreError
from feedbot.http.server import HttpServer
from feedbot.ingest.metrics import ScanMetrics
from feedbot.ingest.openwrites import OpenWrites
from feedbot.ingest.scan import Indexer, ScanReport
from feedbot.publish.site import Site
from feedbot.runtime.arenas import settle_startup_heap
from feedbot.runtime.components import Component
from feedbot.runtime.health import UNREACHABLE, check_database, document, failure_kind
from feedbot.runtime.jobs import guarded
from feedbot.runtime.looplag import LoopLag
from feedbot.runtime.publishing import arm_release
from feedbot.runtime.stopping import ExitWatchdog, in_daemon_thread
from feedbot.store import Store
from feedbot.store.dbfile import FileIdentity

if TYPE_CHECKING:
    from feedbot.ingest.watch import Changes
    from feedbot.publish.websub import Publisher

__all__ = ["Daemon", "DaemonParts"]

log = logging.getLogger("feedbot.daemon")

STOP_GRACE = 8.0  # seconds for a clean stop; the process must exit within 10


@dataclass(frozen=True, slots=True)
class DaemonParts:
    """What the daemon drives, built by the composition root (`feedbot.app.build_daemon`)."""

    index: IndexSettings  # the folder, the watcher and the scan interval (live on SIGHUP)
    registry: CollectorRegistry
    metrics: ScanMetrics
    lag: LoopLag
    indexer: Indexer
    site: Site
    leadership: Leadership
    catchup: CatchUp | None  # None when this is the only replica (SQLite)
    writes: OpenWrites  # files the watcher sees open in their writer
    components: Sequence[Component] = ()
    identity: FileIdentity | None = None  # the SQLite file, to notice it vanish
    # SIGHUP: re-read and apply the settings (given the scheduler); the index section in force
    reload: Callable[[AsyncIOScheduler | None], IndexSettings] | None = None
    publisher: Publisher | None = None  # pings the WebSub hub (`feed.websub_hub`)


class Daemon:
    """The running service; `run` drives it."""

    def __init__(self, store: Store, parts: DaemonParts) -> None:
        self.index = parts.index
        self.store = store
        self.registry = parts.registry
        self.metrics = parts.metrics
        self.indexer = parts.indexer
        self.site = parts.site
        self.lag = parts.lag
        self._heap_frozen = False
        self.leadership = parts.leadership
        self.catchup = parts.catchup
        self.components = list(parts.components)
        self._writes = parts.writes
        self.last_scan: datetime | None = None
        self.last_duration: float | None = None
        self.last_error: str | None = None
        self.bad: tuple[str, ...] = ()  # `path:line: message` of each bad file, last scan
        self.articles = len(self.indexer.known)
        self.started = datetime.now(UTC)
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._recheck: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._publisher = parts.publisher
        self._ready: set[str] = set()  # files the watcher saw completed since the last scan
        self._waiting = 0  # scans queued behind the one running
        self.identity = parts.identity
        self.db_problem: str | None = None
        self._reload = parts.reload
        self._scheduler: AsyncIOScheduler | None = None
        self._scheduled_scan = guarded("scheduled scan", self.scan)  # the scheduler's job
        self._leading = False  # the leader's duties run (follows `leadership.leading`)
        self._term = asyncio.Event()  # set when the leader's duties stop
        self._watcher: asyncio.Task[None] | None = None
        self._server: HttpServer | None = None
        self._watchdog = ExitWatchdog(STOP_GRACE + 1.5)

    # --- scanning ---------------------------------------------------------------------------

    async def scan(self, reason: str) -> ScanReport | None:
        """One reconcile of the folder (serialized; skipped once stopping, and on followers)."""
        if self._stopping.is_set() or not self.leadership.leading:
            return None
        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        try:
            if (self._stopping.is_set() and reason != "start") or not self.leadership.leading:
                return None
            ready, self._ready = frozenset(self._ready), set()
            writing = self._held()
            check_database(self)
            try:
                report = await in_daemon_thread(
                    lambda: self.indexer.scan(stop=self._scan_stop, ready=ready, writing=writing),
                    "scan",
                )
            except FencedError as e:
                self.leadership.step_down(f"scan: {e}")
                return None
            except Exception as e:
                self.metrics.scans.labels("error").inc()
                self.last_scan = datetime.now(UTC)
                if self.store.outage is not None:  # logged once, by the store
                    self.last_error = UNREACHABLE
                else:  # the detail goes to the log; /healthz names the kind
                    self.last_error = f"scan failed: {failure_kind(e)}"
                    log.error("scan (%s) failed: %s: %s", reason, type(e).__name__, e)
                # reconnect next time: a connection can stay read-only
                await self.store.call(self.store.reconnect)
                return None
            self._record(report, reason)
        finally:
            self._lock.release()
        if report.changes:
            try:
                await self.store.call(self.site.get, "feed.atom")  # render now, off the loop
            except StoreError as e:  # a later request renders it; the store logs an outage
                if self.store.outage is None:
                    log.warning("cannot render the feed after the scan: %s", e)
            self._publish()
        if report.created or report.changed or report.removed:
            for component in self.components:
                component.wake((*report.changed, *report.removed))
        if self._scheduler is not None and not self._stopping.is_set():
            with contextlib.suppress(StoreError):
                await arm_release(self._scheduler, self.store, self._scheduled_scan)
        release = self._writes.next_release(time.monotonic())  # a writer that never closes
        recheck = [t for t in (report.recheck_in, release) if t is not None]
        if recheck and not self._stopping.is_set():
            self._schedule_recheck(min(recheck))
        return report

    def _held(self) -> Collection[str]:
        """The files to leave unread now: open in their writer (`OpenWrites.held`)."""
        return self._writes.held(time.monotonic())

    def _scan_stop(self) -> bool:
        return self._stopping.is_set() or not self.leadership.leading

    def _record(self, report: ScanReport, reason: str) -> None:
        self.last_scan, self.last_duration, self.last_error = (
            datetime.now(UTC),
            report.seconds,
            None,
        )
        self.bad, self.articles = report.bad, report.articles
        self.metrics.record(report, reason)

    def _publish(self) -> None:
        """Tell the WebSub hub the feeds changed (`feedbot.publish.websub.Publisher`)."""
        task = self._publisher.publish() if self._publisher is not None else None
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _schedule_recheck(self, delay: float) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        loop = asyncio.get_running_loop()
        self._recheck = loop.call_later(delay + 0.02, self._spawn, "settle")

    def _spawn(self, reason: str) -> None:
        if self._waiting:
            return  # a scan that has not listed the folder yet is already queued
        task = asyncio.ensure_future(self.scan(reason))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, over: asyncio.Event) -> None:
        """Scan on changes until ``over`` is set (`feedbot.ingest.watch.watch_folder`)."""
        from feedbot.ingest.watch import watch_folder

        def changed(batch: Changes) -> None:
            self._writes.fold(batch, time.monotonic())
            self._ready |= batch.ready
            self._spawn("watch")

        self._writes.forget()  # what was open before this watch began: the settle rule
        try:
            await watch_folder(self.index.path, over, changed)
        finally:
            self._writes.forget()

    def _reconnected(self) -> None:
        """The database answers again after an outage: scan at once, wake the components."""
        self._spawn("reconnected")
        for component in self.components:
            component.wake()

    # --- health -----------------------------------------------------------------------------

    def health(self) -> tuple[dict[str, Any], bool]:
        """The `/healthz` document and whether all is well (`feedbot.runtime.health`)."""
        return document(self)

    # --- lifecycle --------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Begin a clean stop (first signal)."""
        if self._stopping.is_set():
            log.warning("second signal: exiting at once")
            os._exit(1)
        log.info("stopping: finishing the work in flight")
        self._watchdog.arm()
        self._stopping.set()
        self._term.set()

    def reload(self) -> None:
        """SIGHUP: re-read the configuration and apply what can change while running."""
        if self._reload is None:
            log.warning("SIGHUP: no configuration file to re-read")
            return
        self.index = self._reload(self._scheduler)

    async def run(self, server: HttpServer) -> None:
        """Serve until a stop is requested, then shut down cleanly.

        Every replica serves and follows the others' changes; the leader's duties
        (watcher, scans, scheduler, the components' leader part) start and stop with
        this replica's role (`_reconcile`)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        self._server = server
        serving = asyncio.ensure_future(server.serve())
        probe = asyncio.ensure_future(self.lag.run())
        reconnect = asyncio.ensure_future(self.store.watch_outages(self._reconnected))
        following = self.catchup.start() if self.catchup is not None else None
        for component in self.components:
            await component.start()
        electing = asyncio.ensure_future(self.leadership.run(self._stopping))
        roles = asyncio.ensure_future(self._reconcile())
        await self._stopping.wait()
        probe.cancel()
        reconnect.cancel()
        await asyncio.wait([roles], timeout=STOP_GRACE)
        deadline = time.monotonic() + STOP_GRACE
        if self._leading:
            await self._stop_leading(deadline)
        await self.leadership.release()
        await asyncio.gather(electing, return_exceptions=True)
        for component in self.components:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(component.stop(), max(0.1, deadline - time.monotonic()))
        if self.catchup is not None:
            await self.catchup.stop()
        server.stop()
        pending = [serving, *self._tasks, *([following] if following else [])]
        _, late = await asyncio.wait(pending, timeout=max(0.1, deadline - time.monotonic()))
        for task in late:
            task.cancel()
        self._watchdog.disarm()

    async def _reconcile(self) -> None:
        """Start or stop the leader's duties whenever the role changes."""
        changed = self.leadership.changed
        while not self._stopping.is_set():
            changed.clear()
            if self.leadership.leading and not self._leading:
                await self._lead()
            elif not self.leadership.leading and self._leading:
                await self._stop_leading(time.monotonic() + STOP_GRACE)
            else:
                stop = asyncio.ensure_future(self._stopping.wait())
                change = asyncio.ensure_future(changed.wait())
                await asyncio.wait([stop, change], return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                change.cancel()

    async def _lead(self) -> None:
        """Become the leader: catch up with the database, watch, scan, schedule, lead."""
        self._leading = True
        self._term = asyncio.Event()
        if not self.leadership.solo:  # another leader may have written since we looked
            try:
                await self.store.call(self.indexer.reload)
            except StoreError as e:
                log.error("cannot read the articles to take over: %s", e)
                self.leadership.step_down(str(e))
                return
        # The watcher starts before the first scan lists the folder, so nothing falls between.
        watching = self.index.watch
        if watching:
            self._watcher = asyncio.ensure_future(self._watch(self._term))
        await asyncio.sleep(0)
        first = asyncio.ensure_future(self.scan("start"))
        self._tasks.add(first)
        first.add_done_callback(self._tasks.discard)
        stop = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait([first, stop], return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if self._stopping.is_set() or not self.leadership.leading:
            return  # a stop (or a lost lease) during the first scan starts nothing more
        if not self._heap_frozen:  # the start-up heap, the index's records included
            await settle_startup_heap(self.store)  # before the components allocate on top
            self._heap_frozen = True
        scheduler = self._scheduler = AsyncIOScheduler(
            timezone=UTC, event_loop=asyncio.get_running_loop()
        )
        scheduler.add_job(
            self._scheduled_scan,
            "interval",
            args=["interval"],
            seconds=self.index.scan_interval,
            coalesce=True,
            max_instances=1,
            id="scan",
        )
        scheduler.start()
        with contextlib.suppress(StoreError):
            await arm_release(scheduler, self.store, self._scheduled_scan)
        for component in self.components:
            await component.lead(self.leadership)
        server = self._server
        url = server.url if server else "-"
        pages = "".join(
            f", {name} {url}{path.lstrip('/')}"
            for component in self.components
            for name, path in getattr(component, "pages", {}).items()
        )
        log.info(
            "feedbot leading: index %s (%d articles), database %s, serving %s "
            "(feed %sfeed.atom%s), scan every %gs, watcher %s, %d component(s)",
            self.index.path,
            self.articles,
            self.store.name,
            url,
            url,
            pages,
            self.index.scan_interval,
            "on" if watching else "off",
            len(self.components),
        )

    async def _stop_leading(self, deadline: float) -> None:
        """Stop the leader's duties: no new scans; the scan and sends in flight finish."""
        self._leading = False
        self._term.set()
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        if self._recheck is not None:
            self._recheck.cancel()
        for part in self.components:
            try:
                await asyncio.wait_for(part.stop_leading(), max(0.1, deadline - time.monotonic()))
            except Exception as e:
                log.warning("stopping the leader's part of %s: %s", type(part).__name__, e)
        try:  # the scan in flight finishes; queued ones skip
            await asyncio.wait_for(self._lock.acquire(), max(0.1, deadline - time.monotonic()))
            self._lock.release()
        except TimeoutError:
            log.warning("the scan in flight did not finish within %gs; leaving it", STOP_GRACE)
        if self._watcher is not None:
            await asyncio.wait([self._watcher], timeout=max(0.1, deadline - time.monotonic()))
            self._watcher = None
