"""glibc malloc arenas for `feedbot run`: at most `ARENA_MAX` per process.

glibc gives each thread that contends for the heap an arena of its own (up to 8 per
core), and an arena's freed pages stay with it: the daemon's threads (the store's
pool, the scan worker, the watcher, the web server) each leave a few MB resident.
Capping the arenas at 2, before those threads start, lowers the peak RSS of a 10k
ingest by ~4 MB (bench_playground, VmHWM) at no measurable ingest cost: the threads
spend their time in SQLite and in Python holding the GIL, not in malloc.

Only on glibc (Linux); elsewhere, and when ``MALLOC_ARENA_MAX`` is set in the
environment (the operator's choice, which glibc reads itself), it does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os

__all__ = ["ARENA_MAX", "limit_arenas"]

log = logging.getLogger("feedbot.daemon")

ARENA_MAX = 2
M_ARENA_MAX = -8  # glibc's <malloc.h>


def limit_arenas(arenas: int = ARENA_MAX) -> bool:
    """Cap glibc's malloc arenas at ``arenas``; True when the cap was set."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"; musl and macOS raise
    except (ValueError, OSError):
        return False
    try:
        libc = ctypes.CDLL(None)  # the process's own C library
        done = bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False
    if not done:
        log.debug("mallopt(M_ARENA_MAX, %d) refused", arenas)
    return done
