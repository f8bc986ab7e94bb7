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
