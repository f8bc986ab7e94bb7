"""The publisher's controls as the daemon applies them: ``telegram.*`` as a `Publishing`
policy for the store, and the timer that publishes the next scheduled article.

An article dated in the future is stored but not published (`feedbot.store.articles`).
The leader publishes it when it is due: an APScheduler date job set for the earliest
scheduled date runs a scan, and every scan (the first after a start included)
publishes whatever is due, so a restart in between loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from feedbot.config import TelegramSettings
from feedbot.store import Publishing, Store

__all__ = ["RELEASE_JOB", "arm_release", "publishing_from"]

log = logging.getLogger("feedbot.daemon")

RELEASE_JOB = "release"


def publishing_from(tg: TelegramSettings) -> Publishing:
    """What a save or removal of a posted article does, how long posts wait and the
    channels every new article goes to, from ``telegram.*``."""
    return Publishing(tg.on_edit, tg.on_remove, timedelta(seconds=tg.delay), tuple(tg.channels))


async def arm_release(scheduler: Any, store: Store, scan: Callable[[str], Awaitable[Any]]) -> None:
    """Set (or move, or drop) the date job that scans when the next scheduled article
    is due."""
    due = await store.call(store.articles.next_scheduled)
    if due is None:
        if scheduler.get_job(RELEASE_JOB) is not None:
            scheduler.remove_job(RELEASE_JOB)
        return
    scheduler.add_job(
        scan,
        "date",
        args=["scheduled"],
        run_date=due,
        id=RELEASE_JOB,
        replace_existing=True,
        misfire_grace_time=None,  # late (a busy loop, a suspended machine) is still due
    )
    log.debug("next scheduled article due at %s", due.isoformat())
