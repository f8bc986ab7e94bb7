"""LISTEN for what other replicas commit (PostgreSQL), on a thread of its own.

The leader's article writes send ``NOTIFY feedbot_articles`` at commit
(`feedbot.store.articles.CHANGES_CHANNEL`). `ChangeListener` keeps one dedicated psycopg
connection on its own thread that LISTENs and, for each notification, calls the channel's
callback: the event loop never waits on it. A lost connection is re-opened with backoff,
and every (re)connect calls ``on_connect``, since notifications sent while nobody listened
are lost. psycopg's errors stay here: they are logged once per outage, never raised.
`Store.change_listener` builds one for the article changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping

import psycopg
from psycopg import sql

__all__ = ["MAX_BACKOFF", "ChangeListener"]

log = logging.getLogger("feedbot.follow")

MAX_BACKOFF = 5.0


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
