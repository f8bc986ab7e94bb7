"""Following changes another replica commits, so every replica serves the same feed.

On PostgreSQL the leader's article writes send ``NOTIFY feedbot_articles`` at
commit (`feedbot.store.articles`). The store's change listener
(`feedbot.store.listen`) LISTENs on a thread of its own and, for each notification,
bumps the article version the site renders for: the event loop never waits on it.
A lost connection is re-opened with backoff, and every (re)connect calls back here:
notifications sent while nobody listened are lost, so the daemon compares the
database's change token then (`feedbot.store.Articles.check_version`), and every
``version_check_interval`` as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib

from feedbot.errors import StoreError
from feedbot.store import Store

__all__ = ["CatchUp"]


class CatchUp:
    """Keeps this replica's article version in step with the database (PostgreSQL)."""

    def __init__(self, store: Store, interval: float) -> None:
        self._store = store
        self._interval = interval
        self.listener = store.change_listener(on_connect=self._check)
        self._task: asyncio.Task[None] | None = None

    def _check(self) -> None:
        with contextlib.suppress(StoreError):
            self._store.articles.check_version()

    def start(self) -> asyncio.Task[None]:
        """Listen (on a thread) and check every ``interval`` (a task; `stop` ends both)."""
        self.listener.start()
        self._task = asyncio.ensure_future(self._poll())
        return self._task

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self._store.call(self._check)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self.listener.stop)
