"""Process set-up for `feedbot run`: check the index, open (and on SQLite lock) the
database, bind the port, run the `Daemon` in an event loop, close everything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from feedbot.app import bind, build_daemon
from feedbot.config import Settings
from feedbot.errors import FeedbotError
from feedbot.http.server import loop_factory
from feedbot.ingest.decide import list_files
from feedbot.runtime.arenas import limit_arenas
from feedbot.runtime.components import ComponentFactory
from feedbot.runtime.daemon import Daemon
from feedbot.store import Store
from feedbot.store.dbfile import DbLock, FileIdentity, check_baseline, check_writable, explained
from feedbot.store.urls import sqlite_file

__all__ = ["run", "sqlite_path"]

log = logging.getLogger("feedbot.daemon")


def run(
    settings: Settings,
    *,
    components: Sequence[ComponentFactory] = (),
    baseline: bool = False,
    reload: Callable[[], Settings] | None = None,
) -> None:
    """Open everything, serve until SIGTERM/SIGINT, close; raises FeedbotError on bad setup.

    ``baseline`` accepts a new database over a non-empty index where one existed
    before (see `feedbot.store.dbfile`); ``reload`` re-reads the settings on SIGHUP.
    """
    limit_arenas()  # before the store's threads and the daemon's start
    folder = settings.index.path
    try:
        files = list_files(folder)
    except OSError as e:
        raise FeedbotError(f"{folder}: cannot read the index: {e.strerror or e}") from None
    url = settings.storage.url
    if url is not None and not url.startswith("sqlite"):  # a shared server: no file to guard
        store = Store.open(settings.storage.path, url=url)
        try:
            daemon = build_daemon(settings, store, components=components, reload=reload)
            daemon.leadership.claim_name()  # another live replica of this name: refused
            try:
                _serve(daemon)
            finally:  # also when it could not start serving (say, the port was taken)
                daemon.leadership.release_name()
        finally:
            store.close()
        log.info("stopped")
        return
    database = sqlite_path(settings)
    lock = DbLock.acquire(database)
    try:
        check_baseline(lock, len(files), allowed=baseline)
        check_writable(database)
        with explained(database):
            store = Store.open(database)
        try:
            lock.record_database()
            with explained(database):
                daemon = build_daemon(
                    settings,
                    store,
                    components=components,
                    identity=FileIdentity.of(database),
                    reload=reload,
                )
            _serve(daemon)
        finally:
            store.close()
    finally:
        lock.release()
    log.info("stopped")


def sqlite_path(settings: Settings) -> Path:
    """The SQLite database file: ``storage.url`` when it is a ``sqlite:///`` URL, else
    ``storage.path`` (`StoreError` when ``storage.url`` is not a URL)."""
    url = settings.storage.url
    if url is None:
        return settings.storage.path
    return sqlite_file(url)


def _serve(daemon: Daemon) -> None:
    server = bind(daemon)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(daemon.run(server))
