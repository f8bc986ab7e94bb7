"""Process set-up for `feedbot run`: check the index, open (and on SQLite lock) the
database, build the daemon with the composition root's ``assemble``, bind the port, run
the `Daemon` in an event loop, close everything."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from feedbot.config import StorageSettings
from feedbot.errors import FeedbotError
from feedbot.http.server import HttpServer, loop_factory
from feedbot.ingest.decide import list_files
from feedbot.runtime.arenas import limit_arenas
from feedbot.runtime.daemon import Daemon
from feedbot.store import Store
from feedbot.store.dbfile import DbLock, FileIdentity, check_baseline, check_writable, explained
from feedbot.store.urls import sqlite_file

__all__ = ["Assemble", "run", "sqlite_path"]

log = logging.getLogger("feedbot.daemon")

Assemble = Callable[[Store, FileIdentity | None], tuple[Daemon, Callable[[], HttpServer]]]
"""The composition root's part (`feedbot.app.run`): the daemon on an open store (and the
SQLite file, to notice it vanish), and how to bind its web app."""


def run(
    storage: StorageSettings, folder: Path, assemble: Assemble, *, baseline: bool = False
) -> None:
    """Open everything, serve until SIGTERM/SIGINT, close; raises FeedbotError on bad setup.

    ``baseline`` accepts a new database over a non-empty index where one existed
    before (see `feedbot.store.dbfile`).
    """
    limit_arenas()  # before the store's threads and the daemon's start
    try:
        files = len(list_files(folder))  # the count only: the list is not kept for the run
    except OSError as e:
        raise FeedbotError(f"{folder}: cannot read the index: {e.strerror or e}") from None
    url = storage.url
    if url is not None and not url.startswith("sqlite"):  # a shared server: no file to guard
        store = Store.open(storage.path, url=url)
        try:
            daemon, bind = assemble(store, None)
            daemon.leadership.claim_name()  # another live replica of this name: refused
            try:
                _serve(daemon, bind)
            finally:  # also when it could not start serving (say, the port was taken)
                daemon.leadership.release_name()
        finally:
            store.close()
        log.info("stopped")
        return
    database = sqlite_path(storage)
    lock = DbLock.acquire(database)
    try:
        check_baseline(lock, files, allowed=baseline)
        check_writable(database)
        with explained(database):
            store = Store.open(database)
        try:
            lock.record_database()
            with explained(database):
                daemon, bind = assemble(store, FileIdentity.of(database))
            _serve(daemon, bind)
        finally:
            store.close()
    finally:
        lock.release()
    log.info("stopped")


def sqlite_path(storage: StorageSettings) -> Path:
    """The SQLite database file: ``storage.url`` when it is a ``sqlite:///`` URL, else
    ``storage.path`` (`StoreError` when ``storage.url`` is not a URL)."""
    if storage.url is None:
        return storage.path
    return sqlite_file(storage.url)


def _serve(daemon: Daemon, bind: Callable[[], HttpServer]) -> None:
    server = bind()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(daemon.run(server))
