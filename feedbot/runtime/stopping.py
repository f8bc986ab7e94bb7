"""Stopping within the budget, whatever a worker thread is doing.

A scan runs in a thread; a thread blocked in a system call (an ``open`` that never
returns, a stalled disk) cannot be interrupted. `in_daemon_thread` runs such work
in a daemon thread of its own, so the process can exit without it (the default
executor's threads are joined at exit, which is what hung the daemon).
`ExitWatchdog` is the last resort: armed at the first stop signal, it logs one
line and ends the process if the clean stop has not finished in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["ExitWatchdog", "in_daemon_thread"]

log = logging.getLogger("feedbot.daemon")

T = TypeVar("T")


async def in_daemon_thread(fn: Callable[[], T], name: str) -> T:
    """Run ``fn`` in a new daemon thread and await its result (or exception)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return  # the waiter gave up (cancelled at shutdown)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = fn(), None
        except BaseException as e:  # handed to the awaiting task
            result, error = None, e
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future


class ExitWatchdog:
    """Ends the process ``seconds`` after `arm` unless `disarm` comes first."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        log.error("could not stop cleanly within %gs; exiting now", self.seconds)
        for handler in logging.getLogger().handlers:
            with contextlib.suppress(Exception):
                handler.flush()
        os._exit(1)
