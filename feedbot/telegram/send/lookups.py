"""Articles read once per short while, shared by the sends and edits that need them.

A broadcast to thousands of chats needs the same article thousands of times: reading
and decoding it for each would cost more than sending. `Lookups` reads a key at most
once per ``ttl`` seconds, lets callers that arrive meanwhile share the one read in
flight, does not remember a read that failed, and `forget`\\ s keys that changed so the
next caller reads them again (the daemon calls it after every scan).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Generic, TypeVar

__all__ = ["ENTRY_TTL", "Lookups"]

V = TypeVar("V")
ENTRY_TTL = 2.0  # seconds a value read is reused


class Lookups(Generic[V]):
    """``fetch(key)`` results, each reused for ``ttl`` seconds; at most ``size`` kept
    beyond those still fresh."""

    def __init__(
        self, fetch: Callable[[str], Awaitable[V]], *, ttl: float = ENTRY_TTL, size: int = 64
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._size = size
        self._found: dict[str, tuple[float, asyncio.Future[V]]] = {}  # key -> (when, read)

    async def get(self, key: str) -> V:
        """The value of ``key``: the read of the last ``ttl`` seconds, or a new one."""
        now = time.monotonic()
        cached = self._found.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return await asyncio.shield(cached[1])  # callers that start together share it
        if len(self._found) >= self._size:
            self._found = {k: v for k, v in self._found.items() if now - v[0] < self._ttl}
        read = asyncio.ensure_future(self._fetch(key))
        self._found[key] = (now, read)
        try:
            return await asyncio.shield(read)
        except Exception:
            if self._found.get(key, (0.0, None))[1] is read:
                del self._found[key]  # a failed read is not remembered
            raise

    def forget(self, keys: Collection[str]) -> None:
        """These keys changed: the next `get` reads them again."""
        for key in keys:
            self._found.pop(key, None)
