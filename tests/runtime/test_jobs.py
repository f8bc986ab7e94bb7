"""`guarded` scheduled jobs under a real APScheduler: what a job can expect (the database
away, the lease lost, its scheduler shut down mid-run) ends in one log line and no
traceback; a bug still shows its traceback, once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED  # type: ignore[import-untyped]
from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from feedbot.errors import FencedError, StoreError
from feedbot.runtime import jobs
from feedbot.runtime.jobs import guarded
from tests.waiting import until_async


def scheduler_running(job: Callable[..., Awaitable[Any]]) -> AsyncIOScheduler:
    """A started scheduler that runs ``job`` now, then every minute."""
    scheduler = AsyncIOScheduler(timezone=UTC, event_loop=asyncio.get_running_loop())
    scheduler.add_job(job, "interval", seconds=60, next_run_time=datetime.now(UTC))
    scheduler.start()
    return scheduler


async def run_once(job: Callable[..., Awaitable[Any]], ran: asyncio.Event) -> None:
    scheduler = scheduler_running(job)
    done = asyncio.Event()  # the scheduler's own bookkeeping of the run is over
    scheduler.add_listener(lambda _: done.set(), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    await asyncio.wait_for(ran.wait(), 5)
    await asyncio.wait_for(done.wait(), 5)
    scheduler.shutdown(wait=False)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (StoreError("db: connection refused\n\tIs the server running?"), "cannot be reached"),
        (FencedError("the leader lease of epoch 3 is lost"), "not the leader any more"),
    ],
)
async def test_an_expected_error_is_one_line(
    caplog: pytest.LogCaptureFixture, error: Exception, line: str
) -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()
        raise error

    caplog.set_level(logging.INFO)
    await run_once(guarded("digests", work), ran)
    records = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.name for r in records] == ["feedbot.jobs"]
    assert line in records[0].getMessage() and "\n" not in records[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


async def test_a_bug_keeps_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    ran = asyncio.Event()

    async def work() -> None:
        ran.set()
        raise RuntimeError("a bug")

    await run_once(guarded("scan", work), ran)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [(r.name, bool(r.exc_info)) for r in errors] == [("feedbot.jobs", True)]


async def test_a_run_in_flight_finishes_when_its_scheduler_shuts_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.sleep(0.2)
        finished.set()

    scheduler = scheduler_running(guarded("scan", work))
    await asyncio.wait_for(started.wait(), 5)
    scheduler.shutdown(wait=False)  # what the daemon does when the lease is lost
    await asyncio.wait_for(finished.wait(), 5)
    await until_async(lambda: not jobs._RUNNING, what="the run's report")  # its task is done
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
