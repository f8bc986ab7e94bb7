"""Watching the index folder with Linux inotify, so finished files are ready at once.

inotify tells what watchfiles cannot: a file renamed into the folder
(``IN_MOVED_TO``, what atomic writers do) or closed by its writer
(``IN_CLOSE_WRITE``) is complete, so it can be read now instead of after
``index.settle_ms``; a file created or written and not closed since is still
open in its writer, however long it has been quiet (`Changes.writing`,
`feedbot.ingest.openwrites.OpenWrites`). Read through ctypes: no dependency, Linux
only; `available()` says whether it can be used (elsewhere the daemon uses
watchfiles, and every file keeps the settle rule).

When the folder is removed or moved away, the watch waits for a folder of that
name to exist again, re-arms on it and reports a change (a full scan is due).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import stat
import struct
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Changes", "available", "watch", "watch_folder"]

log = logging.getLogger("feedbot.watch")

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ISDIR = 0x40000000
IN_ONLYDIR = 0x01000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000

READY = IN_MOVED_TO | IN_CLOSE_WRITE
WRITE = IN_CREATE | IN_MODIFY
ENDED = READY | IN_DELETE | IN_MOVED_FROM
MASK = READY | IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF
GONE = IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len


@dataclass
class Changes:
    """What happened in the folder since the last batch."""

    ready: set[str] = field(default_factory=set)  # complete: renamed in or closed by the writer
    other: bool = False  # created, modified, deleted, moved out, or the queue overflowed
    writing: set[str] = field(default_factory=set)  # last seen created or written: still open
    ended: set[str] = field(default_factory=set)  # last seen closed, renamed in, removed, moved
    reset: bool = False  # the folder was replaced: what was open in the old one is forgotten


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc if hasattr(libc, "inotify_init1") else None


def available() -> bool:
    """True where inotify can be used (Linux with a libc that has it)."""
    return _libc() is not None


def parse_events(
    data: bytes,
    wanted: Callable[[str], bool],
    into: Changes,
    wd: int | None = None,
    *,
    opened: Callable[[str], bool] = lambda name: True,
) -> bool:
    """Add a buffer of inotify events to ``into``; False when the folder itself went away.

    With ``wd``, events of other watches (one removed before a re-arm) are left out.
    ``opened(name)`` says whether a created entry is a file its creator has open for
    writing (not a link or a hard link made in one step, which no close will follow)."""
    offset = 0
    alive = True
    while offset + _HEADER.size <= len(data):
        event_wd, mask, _, length = _HEADER.unpack_from(data, offset)
        raw = data[offset + _HEADER.size : offset + _HEADER.size + length]
        offset += _HEADER.size + length
        if wd is not None and event_wd != wd and not mask & IN_Q_OVERFLOW:
            continue
        if mask & IN_Q_OVERFLOW:
            into.other = True
            continue
        if mask & GONE:
            alive = False
            continue
        name = os.fsdecode(raw.rstrip(b"\0"))
        if not name or not wanted(name):
            continue
        if mask & READY:
            into.ready.add(name)
        else:
            into.other = True
        if mask & ENDED:
            into.writing.discard(name)
            into.ended.add(name)
        elif mask & IN_MODIFY or (mask & IN_CREATE and not mask & IN_ISDIR and opened(name)):
            into.writing.add(name)
            into.ended.discard(name)
    return alive


async def watch(
    folder: Path,
    wanted: Callable[[str], bool],
    stop: asyncio.Event,
    *,
    debounce: float = 0.02,
    poll: float = 0.5,
) -> AsyncIterator[Changes]:
    """Yield batches of changes in ``folder`` until ``stop`` is set.

    When the folder goes away, waits (checking every ``poll`` seconds) for it to
    come back, then watches it again and yields a change. Raises OSError when the
    watch cannot be set up at first.
    """
    libc = _libc()
    if libc is None:
        raise OSError("inotify is not available on this system")
    fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1 failed")
    loop = asyncio.get_running_loop()
    try:
        wd = _add_watch(libc, fd, folder)
        pending = Changes()
        alive = True
        signal = asyncio.Event()

        def opened(name: str) -> bool:
            return _being_written(folder / name)

        def readable() -> None:
            nonlocal alive
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while True:
                    data = os.read(fd, 65536)
                    alive = parse_events(data, wanted, pending, wd, opened=opened) and alive
            signal.set()

        loop.add_reader(fd, readable)
        try:
            while not stop.is_set():
                if not alive:
                    libc.inotify_rm_watch(fd, wd)  # a folder moved away is still watched
                    log.warning("the index folder %s went away; waiting for it", folder)
                    rearmed = await _rearm(libc, fd, folder, stop, poll)
                    if rearmed is None:
                        return
                    wd, alive = rearmed, True
                    log.info("the index folder %s is back; watching it again", folder)
                    pending.other = True  # files may have come with it: a full scan
                    pending.reset = True
                    yield _take(pending)
                    continue
                if not await _either(signal, stop):
                    return
                await asyncio.sleep(debounce)  # let a burst of events arrive together
                signal.clear()
                if pending.ready or pending.other:
                    yield _take(pending)
        finally:
            loop.remove_reader(fd)
    finally:
        os.close(fd)


def _take(pending: Changes) -> Changes:
    """The batch so far, leaving ``pending`` empty (the reader keeps adding to it)."""
    batch = Changes(
        set(pending.ready), pending.other, set(pending.writing), set(pending.ended), pending.reset
    )
    pending.ready.clear()
    pending.writing.clear()
    pending.ended.clear()
    pending.other = pending.reset = False
    return batch


def _being_written(path: Path) -> bool:
    """Whether a just-created entry is a file its creator holds open to write: a regular
    file with one name. A symbolic link, a hard link to an existing file or a FIFO gets
    no close event, and is complete (or refused) as it is."""
    try:
        st = os.lstat(path)
    except OSError:
        return False  # already gone: its removal ends it
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1


async def _either(signal: asyncio.Event, stop: asyncio.Event) -> bool:
    """Wait for ``signal`` or ``stop``; False when it was ``stop``."""
    waiter = asyncio.ensure_future(signal.wait())
    stopper = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    stopper.cancel()
    return not stop.is_set()


def _add_watch(libc: ctypes.CDLL, fd: int, folder: Path) -> int:
    wd: int = libc.inotify_add_watch(fd, os.fsencode(folder), MASK | IN_ONLYDIR)
    if wd < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno), str(folder))
    return wd


async def _rearm(
    libc: ctypes.CDLL, fd: int, folder: Path, stop: asyncio.Event, poll: float
) -> int | None:
    """A new watch on ``folder`` once it exists again; None when ``stop`` is set first."""
    while True:
        with contextlib.suppress(OSError):  # not there yet (or not a folder yet)
            return _add_watch(libc, fd, folder)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), poll)
            return None


async def watch_folder(
    folder: Path, over: asyncio.Event, changed: Callable[[Changes], None]
) -> None:
    """Call ``changed(batch)`` on every change of article files in ``folder`` until
    ``over`` is set: inotify on Linux (the batch names files complete now and files still
    open for writing), watchfiles elsewhere (a batch that names no file). Never raises:
    the interval scan is the safety net."""
    from feedbot.articles.names import is_article_name

    try:
        if available():
            async for changes in watch(folder, is_article_name, over):
                changed(changes)
            if not over.is_set():
                log.error("the index folder went away; relying on the interval scan")
            return
        from watchfiles import awatch

        def wanted(change: object, path: str) -> bool:
            return is_article_name(os.path.basename(path))

        async for _ in awatch(
            folder, watch_filter=wanted, stop_event=over, step=30, debounce=400, recursive=False
        ):
            changed(Changes(other=True))
    except Exception as e:
        log.error("file watcher stopped: %s; relying on the interval scan", e)
