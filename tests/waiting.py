"""The one way tests wait: poll a check until it holds, never sleep and then assert.

`until` polls on this thread; `until_async` polls from a coroutine, running the check on a
worker thread (so it may read the database) between ``asyncio.sleep``s. Both return the
check's first truthy value and fail the test with ``what`` (and, for `until`, the
``context()`` text, e.g. a daemon's log tail) when it does not come within ``timeout``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

import pytest

__all__ = ["until", "until_async"]

T = TypeVar("T")


def _timed_out(what: str, timeout: float, context: Callable[[], str] | None = None) -> str:
    message = f"timed out after {timeout} s waiting for {what or 'the condition'}"
    return f"{message}\n{context()}" if context is not None else message


def until(
    check: Callable[[], T],
    *,
    timeout: float = 10.0,
    what: str = "",
    interval: float = 0.05,
    context: Callable[[], str] | None = None,
) -> T:
    """Poll ``check()`` until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(_timed_out(what, timeout, context))
        time.sleep(interval)


async def until_async(
    check: Callable[[], T], *, timeout: float = 10.0, what: str = "", interval: float = 0.02
) -> T:
    """Poll ``check()`` on a worker thread until it returns something truthy; that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(_timed_out(what, timeout))
        await asyncio.sleep(interval)
