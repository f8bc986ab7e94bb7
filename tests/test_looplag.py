"""The event-loop lag probe: a blocked loop shows in its histogram."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, generate_latest

from feedbot.looplag import LoopLag


async def test_a_blocking_call_shows_as_lag() -> None:
    registry = CollectorRegistry()
    probe = LoopLag(registry, interval=0.01)
    task = asyncio.create_task(probe.run())
    await asyncio.sleep(0.05)
    assert probe.worst < 0.1
    time.sleep(0.3)  # the point: block the loop
    await asyncio.sleep(0.05)
    task.cancel()
    assert probe.worst >= 0.25
    text = generate_latest(registry).decode()
    assert 'feedbot_event_loop_lag_seconds_bucket{le="0.5"}' in text
    assert "feedbot_event_loop_lag_seconds_count" in text
