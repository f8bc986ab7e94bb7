"""glibc malloc arenas for `feedbot run`: at most `ARENA_MAX` per process.

glibc gives each thread that contends for the heap an arena of its own (up to 8 per
core), and an arena's freed pages stay with it: the daemon's threads (the store's
pool, the scan worker, the watcher, the web server) each leave a few MB resident.
Capping the arenas at 2, before those threads start, lowers the peak RSS of a 10k
ingest by ~4 MB (bench_playground, VmHWM) at no measurable ingest cost: the threads
spend their time in SQLite and in Python holding the GIL, not in malloc.

Only on glibc (Linux); elsewhere, and when ``MALLOC_ARENA_MAX`` is set in the
environment (the operator's choice, which glibc reads itself), it does nothing.

`trim_heap` hands the free memory of the arenas back to the kernel (``malloc_trim``).
glibc keeps what a burst freed for the next one; the first scan of a cold start is
such a burst and does not come again, so the daemon trims once after it, before the
components take the first scan in (the playground's bot starts then): what they
allocate is not added on top of pages the scan no longer uses.
"""

from __future__ import annotations

import ctypes
import logging
import os

from feedbot.runtime.looplag import freeze_startup_heap
from feedbot.store import Store

__all__ = ["ARENA_MAX", "limit_arenas", "settle_startup_heap", "trim_heap"]

log = logging.getLogger("feedbot.daemon")

ARENA_MAX = 2
M_ARENA_MAX = -8  # glibc's <malloc.h>


def _glibc() -> ctypes.CDLL | None:
    """The process's C library when it is glibc, else None."""
    try:
        os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"; musl and macOS raise
    except (ValueError, OSError):
        return None
    try:
        return ctypes.CDLL(None)  # the process's own C library
    except OSError:
        return None


def limit_arenas(arenas: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas at ``arenas``; True when the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _glibc()
    if libc is None:
        return False
    try:
        done = bool(libc.mallopt(M_ARENA_MAX, arenas))
    except AttributeError:
        return False
    if not done:
        log.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return done


def trim_heap() -> bool:
    """Return the free pages of every malloc arena to the kernel (glibc's
    ``malloc_trim(0)``); True when some memory was released. A no-op elsewhere."""
    libc = _glibc()
    if libc is None:
        return False
    try:
        return bool(libc.malloc_trim(0))
    except AttributeError:
        return False


async def settle_startup_heap(store: Store) -> None:
    """Once, after the first scan: give the store's idle page caches back (the pages the
    scan wrote, `Store.shrink_caches`), collect and freeze what start-up left alive
    (`freeze_startup_heap`), then give the arenas' free pages back (`trim_heap`)."""
    await store.call(store.shrink_caches)
    freeze_startup_heap()
    trim_heap()
