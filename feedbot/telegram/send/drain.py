"""What the sender and the editor share: draining a ledger with bounded concurrency.

Each claims due rows and works on them as tasks, at most ``max_in_flight`` at a
time; `wake` makes it look for due rows now rather than at its next poll; a ledger
write refused by the leader fence (`FencedError`) stops it and tells the daemon,
which steps this replica down; `stop` lets the tasks in flight finish within a grace.

`keep_running` is how the daemon runs a drain: should ``run`` itself crash (a bug, a
damaged ledger row), the crash is logged, `crashed` names it for ``/healthz`` until the
restarted drain claims again, and ``run`` starts again after a back-off (1 s, doubling
up to a minute); the restarted ``run`` first puts back what the crashed one had claimed
but not started. A task that fails on one row records it for a retry instead of
crashing; should even that write fail, the row is put back at the next claim
(`_orphaned`), so no row stays claimed by a task that no longer runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from feedbot.errors import FencedError, StoreError

__all__ = ["Drain"]

log = logging.getLogger("feedbot.telegram.drain")

FIRST_RESTART = 1.0  # seconds before a crashed drain runs again; doubles each time
LAST_RESTART = 60.0  # the longest wait between restarts


class Drain:
    """The concurrency, wake-up and stop mechanics of a ledger drain (``role`` names it)."""

    role = "drain"

    def __init__(
        self,
        *,
        max_in_flight: int,
        on_outcome: Callable[[str], None] | None,
        on_fenced: Callable[[str], None] | None,
    ) -> None:
        self.on_fenced = on_fenced  # a ledger write was fenced: this replica lost the lead
        self._on_outcome = on_outcome
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._orphaned = False  # a row's outcome could not be written: put claims back
        self.crashed: str | None = None  # why `run` is down (until it claims again)

    async def run(self, *, poll: float = 1.0) -> None:
        """Drain until `stop()` or a fenced write (each drain has its own)."""
        raise NotImplementedError

    async def keep_running(self) -> None:
        """`run`, and run it again after a back-off whenever it crashes, until it returns
        (stopped, or fenced)."""
        delay = FIRST_RESTART
        while True:
            try:
                await self.run()
                self.crashed = None
                return
            except Exception as e:
                if self.crashed is None:  # it had recovered since the last crash
                    delay = FIRST_RESTART
                self.crashed = type(e).__name__
                log.error(
                    "%s task crashed (%s: %s); restarting it in %.0f s",
                    self.role,
                    type(e).__name__,
                    e,
                    delay,
                    exc_info=e,
                )
            if not await self._pause(delay):
                self.crashed = None
                return
            delay = min(delay * 2, LAST_RESTART)

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (a `wake` does not cut it short); False when stopped meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._stopping:
            left = deadline - loop.time()
            if left <= 0:
                return True
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), left)
        return False

    async def _put_back_late(self, release: Callable[[], Awaitable[int]]) -> None:
        """`stop()` put the claims back while a claim was still on its way to the database:
        put back what that claim took too, or its rows would stay claimed by nobody."""
        with contextlib.suppress(FencedError, StoreError):  # the next leader releases them
            await release()

    def wake(self) -> None:
        """Rows may be due: look now rather than at the next poll."""
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def _slot(self) -> bool:
        """Wait for room for one more task; False when stopping meanwhile."""
        await self._slots.acquire()
        if self._stopping:
            self._slots.release()
            return False
        return True

    def _start(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` in the slot `_slot` gave."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("%s task crashed", self.role, exc_info=task.exception())

    def _orphan(self, row: str, error: Exception) -> None:
        """``row``'s outcome could not be written: the run loop puts it back (with every
        other claimed row no task holds) before its next claim."""
        log.warning("%s: %s not recorded (%s); it is tried again", self.role, row, error)
        self._orphaned = True
        self.wake()

    def _fenced(self, error: FencedError) -> None:
        """This replica lost the lease: claim nothing more; rows in flight stay claimed
        for the new leader to release."""
        if not self._stopping:
            log.warning("%s: %s; stopping", self.role, error)
        self._stopping = True
        self._wake.set()
        if self.on_fenced is not None:
            self.on_fenced(str(error))

    async def _finish_tasks(self, grace: float) -> None:
        """Stop claiming; let the tasks in flight finish (up to ``grace`` s), cancel the rest."""
        self._stopping = True
        self._wake.set()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _count(self, outcome: str) -> None:
        if self._on_outcome is not None:
            self._on_outcome(outcome)
