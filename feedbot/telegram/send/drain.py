"""What the sender and the editor share: draining a ledger with bounded concurrency.

Each claims due rows and works on them as tasks, at most ``max_in_flight`` at a
time; `wake` makes it look for due rows now rather than at its next poll; a ledger
write refused by the leader fence (`FencedError`) stops it and tells the daemon,
which steps this replica down; `stop` lets the tasks in flight finish within a grace.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from feedbot.errors import FencedError

__all__ = ["Drain"]

log = logging.getLogger("feedbot.telegram.drain")


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
