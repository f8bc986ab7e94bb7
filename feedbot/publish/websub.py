"""WebSub publisher: tell the hub our feeds changed (``hub.mode=publish``).

A ping is best effort: failures are logged and retried with backoff, and never
raised, so publishing never waits on or fails because of the hub.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import httpx

__all__ = ["Publisher", "ping_hub"]

log = logging.getLogger("feedbot.websub")

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


async def _ping_one(
    client: httpx.AsyncClient, hub: str, topic: str, attempts: int, base_delay: float
) -> bool:
    """Ping the hub about one topic; True once the hub answers 2xx."""
    for attempt in range(1, attempts + 1):
        try:
            response = await client.post(hub, data={"hub.mode": "publish", "hub.url": topic})
        except httpx.HTTPError as e:
            problem = f"{type(e).__name__}: {e}"
            retry = not isinstance(e, httpx.UnsupportedProtocol)
        else:
            if response.is_success:
                log.debug("websub: hub %s accepted %s", hub, topic)
                return True
            problem = f"HTTP {response.status_code}"
            retry = response.status_code in _RETRY_STATUS
        if not retry or attempt == attempts:
            log.warning(
                "websub: ping of %s for %s failed after %d attempt(s): %s",
                hub,
                topic,
                attempt,
                problem,
            )
            return False
        delay = base_delay * 2 ** (attempt - 1)
        log.info("websub: ping of %s failed (%s); retrying in %.1fs", hub, problem, delay)
        await asyncio.sleep(delay)
    return False


async def ping_hub(
    client: httpx.AsyncClient,
    hub: str,
    topics: Sequence[str],
    *,
    attempts: int = 5,
    base_delay: float = 1.0,
) -> bool:
    """Ping ``hub`` once per topic (form-encoded ``hub.mode=publish``, ``hub.url``).

    Retries network errors, 429 and 5xx up to ``attempts`` times with exponential
    backoff from ``base_delay`` seconds. Returns True when every topic was accepted;
    never raises (cancellation excepted).
    """
    ok = True
    for topic in topics:
        try:
            ok = await _ping_one(client, hub, topic, max(1, attempts), base_delay) and ok
        except Exception:  # a bad hub URL, a broken transport: log, never raise
            log.exception("websub: ping of %s for %s failed", hub, topic)
            ok = False
    return ok


class Publisher:
    """Pings the hub after each publish without ever holding it up: pings that pile up
    while one is under way collapse into one more ping."""

    def __init__(self, hub: str, topics: Sequence[str]) -> None:
        self._hub = hub
        self._topics = list(topics)
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def publish(self) -> asyncio.Task[None] | None:
        """Ping soon; the task of a new ping (None when one under way will ping again)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return None
        self._task = asyncio.ensure_future(self._run())
        return self._task

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            while True:
                self._again = False
                await ping_hub(client, self._hub, self._topics)
                if not self._again:
                    return
