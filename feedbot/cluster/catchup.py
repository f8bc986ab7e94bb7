"""Following changes another replica commits, so every replica serves the same feed.

On PostgreSQL the leader's article writes send ``NOTIFY feedbot_articles`` at
commit (`feedbot.store.articles`). `ChangeListener` keeps one dedicated psycopg
connection on a thread of its own that LISTENs and, for each notification, calls
its callback (which bumps the article version the site renders for): the event
loop never waits on it. A lost connection is re-opened with backoff, and every
(re)connect calls ``on_connect``: notifications sent while nobody listened are
lost, so the daemon compares the database's change token then
(`feedbot.store.Articles.check_version`), and every ``version_check_interval``
as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from psycopg import sql
from sqlalchemy import URL

from feedbot.errors import StoreError
from feedbot.store import Store
from feedbot.store.articles import CHANGES_CHANNEL

__all__ = ["ChangeListener", "Follower", "libpq_url"]

log = logging.getLogger("feedbot.follow")

MAX_BACKOFF = 5.0


def libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection string (password included: never log it)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class ChangeListener:
    """LISTEN on ``channels`` (name → callback) from a thread; callbacks run on that thread."""

    def __init__(
        self,
        conninfo: str,
        channels: Mapping[str, Callable[[], None]],
        *,
        on_connect: Callable[[], None],
        name: str,
    ) -> None:
        self._conninfo = conninfo
        self._channels = dict(channels)
        self._on_connect = on_connect
        self._name = name  # the database, password masked, for logs
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connected = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="feedbot-listen", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay, failed = 0.2, False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, connect_timeout=5, application_name="feedbot"
                ) as conn:
                    for channel in self._channels:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self.connected, delay = True, 0.2
                    if failed:
                        log.info("change listener: connected to %s again", self._name)
                    failed = False
                    self._on_connect()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=0.5):
                            callback = self._channels.get(note.channel)
                            if callback is not None:
                                callback()
            except psycopg.Error as e:
                if not failed:
                    log.error(
                        "change listener: lost %s (%s); retrying",
                        self._name,
                        type(e).__name__,
                    )
                failed = True
            except Exception:  # a callback failed: log it, keep listening
                log.exception("change listener: a callback failed")
            self.connected = False
            self._stop.wait(delay)
            delay = min(delay * 2, MAX_BACKOFF)


class Follower:
    """Keeps this replica's article version in step with the database (PostgreSQL)."""

    def __init__(self, store: Store, interval: float) -> None:
        self._store = store
        self._interval = interval
        self.listener = ChangeListener(
            libpq_url(store.db.engine.url),
            {CHANGES_CHANNEL: store.articles.changed_elsewhere},
            on_connect=self._check,
            name=store.name,
        )
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
            await self._store.db.call(self._check)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.to_thread(self.listener.stop)
