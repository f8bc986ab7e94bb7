"""The malloc arena cap `feedbot run` sets: on glibc only, and never over the operator's
``MALLOC_ARENA_MAX``. Each case runs in a fresh interpreter (the cap is process-wide)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _limit_arenas(**env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    done = subprocess.run(
        [sys.executable, "-c", "from feedbot.runtime.arenas import limit_arenas as f; print(f())"],
        env={**environment, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def _glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):
        return False


def test_the_cap_is_set_on_glibc() -> None:
    assert _glibc(), "the daemon's image and the test machines run glibc"
    assert _limit_arenas() == "True"


def test_the_operators_malloc_arena_max_wins() -> None:
    assert _limit_arenas(MALLOC_ARENA_MAX="8") == "False"


TRIM = """
import re
from feedbot.runtime.arenas import trim_heap

def rss_kb():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1))

burst = [bytearray(2000) for _ in range(30_000)]  # 60 MB of malloc'd blocks, as a scan's
del burst[:-1]  # all freed but the last: glibc keeps the pages below it
before = rss_kb()
print(trim_heap(), before - rss_kb())
"""


def test_trimming_gives_what_a_burst_freed_back_to_the_kernel() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TRIM],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    released, fell_kb = done.stdout.split()
    assert released == "True"
    assert int(fell_kb) > 40_000  # most of the 60 MB
