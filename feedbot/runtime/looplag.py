"""A probe of the event loop's lag: how late a timer fires tells how long the loop was busy.

Everything (HTTP, the bot, the watcher, the sender) shares one loop, so one
blocking call anywhere shows here. `LoopLag.run` wakes every ``interval`` seconds
and records how much later than asked it woke, in a Prometheus histogram.

`freeze_startup_heap`: a full (generation 2) run of the cyclic garbage collector walks
every tracked object holding the GIL, whichever thread triggers it, so the loop stops
for its whole length: 75-110 ms per collection, six of them during a 10k ingest
(bench_running (b), load ~2 on 2 cores). What is alive once the daemon has started —
modules, classes, the index's records — lives as long as the process: frozen out of
the collector's sight, later collections walk only what came after (11-44 ms).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["LAG_BUCKETS", "LoopLag", "freeze_startup_heap"]

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class LoopLag:
    """Measures the loop's lag until `run` is cancelled."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self.worst = 0.0  # the largest lag seen, in seconds
        self.histogram = Histogram(
            "feedbot_event_loop_lag_seconds",
            "How late a timer on the event loop fired (time the loop was busy elsewhere).",
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    def observe(self, lag: float) -> None:
        lag = max(0.0, lag)
        self.worst = max(self.worst, lag)
        self.histogram.observe(lag)

    async def run(self) -> None:
        """Sleep ``interval``, record the overshoot, forever."""
        while True:
            asked = self._clock() + self.interval
            await asyncio.sleep(self.interval)
            self.observe(self._clock() - asked)


def freeze_startup_heap() -> None:
    """Collect the garbage there is, then keep everything still alive out of later
    collections (`gc.freeze`). Once, after start-up: what is frozen is never collected."""
    gc.collect()
    gc.freeze()
