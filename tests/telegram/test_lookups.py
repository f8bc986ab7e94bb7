"""`Lookups`: the article cache the sender and the editor share the code of."""

from __future__ import annotations

import asyncio

import pytest

from feedbot.telegram.send.lookups import Lookups


class Source:
    """Counts reads; a read waits for ``gate`` so callers can pile up on it."""

    def __init__(self) -> None:
        self.reads: list[str] = []
        self.gate = asyncio.Event()
        self.fail = False

    async def fetch(self, key: str) -> str:
        self.reads.append(key)
        await self.gate.wait()
        if self.fail:
            raise OSError("the database is away")
        return f"value of {key} #{len(self.reads)}"


async def test_callers_that_start_together_share_one_read() -> None:
    source = Source()
    lookups = Lookups(source.fetch)
    waiting = [asyncio.ensure_future(lookups.get("a")) for _ in range(50)]
    await asyncio.sleep(0)
    source.gate.set()
    assert set(await asyncio.gather(*waiting)) == {"value of a #1"}
    assert await lookups.get("a") == "value of a #1" and source.reads == ["a"]


async def test_a_cancelled_caller_does_not_cancel_the_others() -> None:
    source = Source()
    lookups = Lookups(source.fetch)
    first, second = (asyncio.ensure_future(lookups.get("a")) for _ in range(2))
    await asyncio.sleep(0)
    first.cancel()
    source.gate.set()
    assert await second == "value of a #1"


async def test_a_failed_read_is_not_remembered_and_forget_reads_again() -> None:
    source = Source()
    source.gate.set()
    lookups = Lookups(source.fetch)
    source.fail = True
    with pytest.raises(OSError):
        await lookups.get("a")
    source.fail = False
    assert await lookups.get("a") == "value of a #2"
    lookups.forget(["a"])
    assert await lookups.get("a") == "value of a #3"


async def test_values_expire_after_the_ttl() -> None:
    source = Source()
    source.gate.set()
    lookups = Lookups(source.fetch, ttl=0.0, size=2)
    for _ in range(5):
        await lookups.get("a")
    assert source.reads == ["a"] * 5
