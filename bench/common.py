"""What every benchmark returns, and small timing helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Figure", "best_of"]


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
