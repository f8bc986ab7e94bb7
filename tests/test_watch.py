"""The inotify watcher: which events make a file ready, against a real folder."""

from __future__ import annotations

import asyncio
import os
import struct
from pathlib import Path

import pytest

from feedbot import watch
from feedbot.article import is_article_name
from feedbot.watch import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE_SELF,
    IN_MODIFY,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    Changes,
    parse_events,
)

pytestmark = pytest.mark.skipif(not watch.available(), reason="inotify is Linux-only")


def event(mask: int, name: str = "") -> bytes:
    raw = name.encode()
    raw += b"\0" * (-len(raw) % 16 or (16 if raw else 0))
    return struct.pack("iIII", 1, mask, 0, len(raw)) + raw


@pytest.mark.parametrize(
    ("events", "ready", "other", "alive"),
    [
        ([event(IN_MOVED_TO, "001_a.txt")], {"001_a.txt"}, False, True),
        ([event(IN_CLOSE_WRITE, "001_a.txt")], {"001_a.txt"}, False, True),
        ([event(IN_CREATE, "001_a.txt"), event(IN_MODIFY, "001_a.txt")], set(), True, True),
        ([event(IN_MOVED_TO, ".001_a.txt.tmp")], set(), False, True),  # ignored names
        ([event(IN_Q_OVERFLOW)], set(), True, True),  # lost events: rescan everything
        ([event(IN_DELETE_SELF)], set(), False, False),  # the folder went away
    ],
)
def test_parse_events(events: list[bytes], ready: set[str], other: bool, alive: bool) -> None:
    changes = Changes()
    assert parse_events(b"".join(events), is_article_name, changes) is alive
    assert (changes.ready, changes.other) == (ready, other)


def test_parse_events_of_a_removed_watch_are_left_out() -> None:
    changes = Changes()
    data = event(IN_DELETE_SELF) + event(IN_MOVED_TO, "001_a.txt")  # both of watch 1
    assert parse_events(data, is_article_name, changes, wd=2) is True
    assert (changes.ready, changes.other) == (set(), False)


async def next_batch(stream: object) -> Changes:
    return await asyncio.wait_for(stream.__anext__(), 5)  # type: ignore[attr-defined]


async def test_rename_and_close_are_ready_an_open_writer_is_not(tmp_path: Path) -> None:
    stop = asyncio.Event()
    stream = watch.watch(tmp_path, is_article_name, stop)
    first = asyncio.ensure_future(next_batch(stream))
    await asyncio.sleep(0.1)  # let the watch be set up

    (tmp_path / ".a.tmp").write_text("date 2024-01 A\n")
    os.replace(tmp_path / ".a.tmp", tmp_path / "001_a.txt")
    assert (await first).ready == {"001_a.txt"}

    writer = (tmp_path / "002_b.txt").open("w")
    writer.write("date 2024-01 B\n")
    writer.flush()
    batch = await next_batch(stream)
    assert batch.ready == set() and batch.other  # still open: not ready

    writer.close()
    assert (await next_batch(stream)).ready == {"002_b.txt"}
    stop.set()
    await stream.aclose()  # type: ignore[attr-defined]


async def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        await anext(watch.watch(tmp_path / "nope", is_article_name, asyncio.Event()))
