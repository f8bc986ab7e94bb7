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

A drain holds its ledger as the store made it (synchronous; `Claims` is the state
machine every ledger shares, `feedbot.store.ledger.Ledger`) and runs every ledger call
on a database thread through its `Offload` (`feedbot.store.Store`): `_call` once, `_write`
retried while the database is away, for writes that record what Telegram already did.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, ParamSpec, Protocol, TypeVar

from feedbot.errors import FencedError, StoreError
from feedbot.telegram.send.outcomes import backoff

__all__ = ["Claims", "Drain", "DrainSettings", "Offload"]

P = ParamSpec("P")
T = TypeVar("T")
Clock = Callable[[], datetime]

log = logging.getLogger("feedbot.telegram.drain")

FIRST_RESTART = 1.0  # seconds before a crashed drain runs again; doubles each time
LAST_RESTART = 60.0  # the longest wait between restarts


class Offload(Protocol):
    """Runs store work on a database thread and awaits it (`feedbot.store.Store`)."""

    async def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T: ...
    async def call_retrying(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> T: ...


class Claims(Protocol):
    """The state machine of every ledger (`feedbot.store.ledger.Ledger`): put claimed rows
    back, retry one later, fail one."""

    def release_claims(self, keep: Collection[int] = ()) -> int: ...
    def retry(
        self, delivery_id: int, attempts: int, next_attempt_at: datetime, error: str
    ) -> None: ...
    def fail(self, delivery_id: int, attempts: int, error: str) -> None: ...


class Row(Protocol):
    """What a drain's log says of a claimed row (`Delivery`, `Edit`)."""

    @property
    def article_id(self) -> str: ...
    @property
    def chat(self) -> str: ...
    @property
    def attempts(self) -> int: ...


@dataclass(frozen=True, slots=True)
class DrainSettings:
    """How a drain works: a row's attempts, how many at a time, how many a claim takes."""

    default_language: str  # a chat's language when it chose none
    max_attempts: int
    max_in_flight: int = 64
    batch: int = 200


L = TypeVar("L", bound=Claims)


class Drain(Generic[L]):
    """The concurrency, wake-up and stop mechanics of a ledger drain (``role`` names it,
    ``noun`` its rows, ``doing`` what a task does to one, for the log ``_log``)."""

    role = "drain"
    noun = "row"
    doing = "working on post %s for chat %s"
    _log: ClassVar[logging.Logger] = log

    def __init__(
        self,
        ledger: L,
        offload: Offload,
        settings: DrainSettings,
        *,
        clock: Clock = lambda: datetime.now(UTC),
        on_outcome: Callable[[str], None] | None = None,
    ) -> None:
        # a ledger write was fenced: this replica lost the lead (set by whoever leads it)
        self.on_fenced: Callable[[str], None] | None = None
        self._ledger = ledger
        self._offload = offload
        self._settings = settings
        self._clock = clock
        self._on_outcome = on_outcome
        self._slots = asyncio.Semaphore(settings.max_in_flight)
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

    def _held(self) -> set[int]:
        """The ids this drain holds claimed (queued, under way): a release keeps them."""
        raise NotImplementedError

    async def _release(self) -> int:
        """Put back every claimed row but those this drain holds; how many."""
        return await self._call(self._ledger.release_claims, self._held())

    async def _resume(self, rows: str) -> bool:
        """Begin a `run`: put back the claims a crash, or a leader that lost the lease, left
        behind (after a crash of `run`, the ``rows`` it started are still under way: they
        are kept). False when this replica no longer leads; when the database is away the
        run starts anyway and its loop puts them back once it answers (`_orphaned`)."""
        self._stopping = False
        try:
            released = await self._release()
        except FencedError as e:
            self._fenced(e)
            return False
        except StoreError:  # the database is away: the run puts them back once it answers
            self._orphaned = True
            return True
        if released:
            self._log.info("resuming %d %s that were in flight at the last stop", released, rows)
        return True

    async def _put_back_late(self) -> None:
        """`stop()` put the claims back while a claim was still on its way to the database:
        put back what that claim took too, or its rows would stay claimed by nobody."""
        with contextlib.suppress(FencedError, StoreError):  # the next leader releases them
            await self._release()

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

    async def _call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A ledger call (a claim, a read, a release) on a database thread."""
        return await self._offload.call(fn, *args, **kwargs)

    async def _write(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A ledger write that records what Telegram did, on a database thread, retried
        while the database is away."""
        return await self._offload.call_retrying(fn, *args, **kwargs)

    async def _record(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A row's outcome: `_write` (the sender also sees it to its end, see there)."""
        return await self._write(fn, *args, **kwargs)

    async def _retry_at(self, delivery_id: int, attempts: int, at: datetime, reason: str) -> None:
        """The row is due again at ``at``."""
        await self._record(self._ledger.retry, delivery_id, attempts, at, reason)
        self._count("retry")

    async def _give_up(self, delivery_id: int, attempts: int, reason: str) -> None:
        """The row failed for good."""
        await self._record(self._ledger.fail, delivery_id, attempts, reason)
        self._count("failed")

    async def _work(self, delivery_id: int, row: Row, work: Awaitable[None]) -> None:
        """Await a task's ``work`` on one row: a fenced write stops the drain, an outcome the
        database did not take is put back at the next claim, a bug is recorded on the row."""
        try:
            await work
        except FencedError as e:
            self._fenced(e)
        except StoreError as e:  # the database went away mid-task
            self._orphan(f"{self.noun} {delivery_id}", e)
        except Exception as e:  # a bug: record it, never leave the row claimed
            await self._broken(delivery_id, row, e)

    async def _broken(self, delivery_id: int, row: Row, error: Exception) -> None:
        """Working on ``row`` raised something no outcome covers: log it with its traceback
        and try the row again later like a network error (failed once out of attempts)."""
        attempts = row.attempts + 1
        reason = f"{type(error).__name__}: {error}"
        self._log.error(
            f"BUG: {self.doing} raised %s", row.article_id, row.chat, reason, exc_info=error
        )
        try:
            if attempts < self._settings.max_attempts:
                await self._retry_at(
                    delivery_id, attempts, self._clock() + backoff(attempts), reason
                )
            else:
                await self._give_up(delivery_id, attempts, reason)
        except FencedError as e:
            self._fenced(e)
        except Exception as e:
            self._orphan(f"{self.noun} {delivery_id}", e)
