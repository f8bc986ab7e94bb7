"""What every benchmark returns, and small timing helpers."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Figure", "best_of", "stop_process"]


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``ok`` is None where the figure has no goal."""

    name: str
    value: float
    unit: str
    goal: str = ""
    ok: bool | None = None
    detail: str = ""


def best_of(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """Best wall-clock seconds of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM a daemon the benchmark started; SIGKILL it if it outlives ``grace``."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
