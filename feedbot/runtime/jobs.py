"""Scheduled jobs that end what they can expect in one log line, so the next run goes on.

APScheduler runs a coroutine job in a task of its own and, on ``shutdown(wait=False)``
(the leader's duties stop: a lost lease, a stop), cancels the ones in flight; whatever a
job raises it logs with a traceback. `guarded` wraps a job so that:

* its work runs in a task of its own that the scheduler's cancel does not reach: a scan
  in flight finishes (it stops by itself once this replica no longer leads) instead of
  being cut off while its thread goes on;
* what a job of a replica can expect — the database gone (`StoreError`), the lease lost
  (`FencedError`), a cancel at exit — is logged in one line; the next run tries again;
* anything else is a bug and is logged with its traceback, once, by us.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from feedbot.errors import FencedError, StoreError

__all__ = ["guarded"]

log = logging.getLogger("feedbot.jobs")

_RUNNING: set[asyncio.Task[Any]] = set()  # runs the scheduler let go of, kept alive to the end


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _report(name: str, task: asyncio.Task[Any]) -> None:
    _RUNNING.discard(task)
    if task.cancelled():
        log.info("%s: cancelled (the daemon is stopping)", name)
        return
    error = task.exception()
    if error is None:
        return
    if isinstance(error, FencedError):
        log.warning("%s: not the leader any more (%s)", name, _first_line(error))
    elif isinstance(error, StoreError):
        log.warning("%s: the database cannot be reached (%s); the next run tries again",
                    name, _first_line(error))  # fmt: skip
    else:
        log.error("%s failed; the next run tries again", name, exc_info=error)


def guarded(
    name: str, work: Callable[..., Awaitable[Any]]
) -> Callable[..., Coroutine[Any, Any, None]]:
    """``work`` as an APScheduler job that never raises (see the module's docstring)."""

    async def job(*args: Any) -> None:
        task = asyncio.ensure_future(work(*args))
        _RUNNING.add(task)
        task.add_done_callback(lambda t: _report(name, t))
        with contextlib.suppress(Exception):  # `_report` logged it
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:  # the scheduler stopped: the run goes on by itself
                if not task.done():
                    log.debug("%s: the scheduler stopped; the run in flight finishes", name)

    job.__name__ = job.__qualname__ = name
    return job
