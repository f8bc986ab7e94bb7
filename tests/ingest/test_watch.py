"""The inotify watcher: which events make a file ready, against a real folder."""

from __future__ import annotations

import asyncio
import contextlib
import os
import struct
from pathlib import Path

import pytest

from feedbot.articles.names import is_article_name
from feedbot.ingest import watch
from feedbot.ingest.watch import (
    IN_CLOSE_WRITE,
    IN_CREATE,
    IN_DELETE,
    IN_DELETE_SELF,
    IN_ISDIR,
    IN_MODIFY,
    IN_MOVED_FROM,
    IN_MOVED_TO,
    IN_Q_OVERFLOW,
    Changes,
    parse_events,
)
from tests.waiting import until_async

pytestmark = pytest.mark.skipif(not watch.available(), reason="inotify is Linux-only")


def watched(folder: Path) -> bool:
    """Whether an inotify instance of this process watches ``folder`` (the kernel lists each
    watch, with its inode in hex, in ``/proc/self/fdinfo``)."""
    inode = f" ino:{folder.stat().st_ino:x} "
    for info in Path("/proc/self/fdinfo").iterdir():
        with contextlib.suppress(OSError):  # an fd closed meanwhile
            lines = info.read_text().splitlines()
            if any(line.startswith("inotify ") and inode in line for line in lines):
                return True
    return False


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


A, B = "001_a.txt", "002_b.txt"


@pytest.mark.parametrize(
    ("events", "writing", "ended"),
    [
        ([event(IN_CREATE, A)], {A}, set()),  # created: its writer has it open
        ([event(IN_MODIFY, A)], {A}, set()),  # an existing file opened and written
        ([event(IN_CREATE, A), event(IN_MODIFY, A), event(IN_CLOSE_WRITE, A)], set(), {A}),
        ([event(IN_CLOSE_WRITE, A), event(IN_MODIFY, A)], {A}, set()),  # closed, then again
        ([event(IN_MODIFY, A), event(IN_DELETE, A)], set(), {A}),
        ([event(IN_MODIFY, A), event(IN_MOVED_FROM, A), event(IN_MOVED_TO, B)], set(), {A, B}),
        ([event(IN_CREATE | IN_ISDIR, A)], set(), set()),  # a folder is never written
        ([event(IN_MODIFY, A), event(IN_Q_OVERFLOW)], {A}, set()),  # kept until its close
    ],
)
def test_parse_events_tracks_files_open_for_writing(
    events: list[bytes], writing: set[str], ended: set[str]
) -> None:
    changes = Changes()
    parse_events(b"".join(events), is_article_name, changes)
    assert (changes.writing, changes.ended) == (writing, ended)


def test_parse_events_asks_whether_a_created_entry_is_being_written() -> None:
    changes = Changes()
    parse_events(event(IN_CREATE, A) + event(IN_CREATE, B), is_article_name, changes,
                 opened=lambda name: name == B)  # fmt: skip
    assert (changes.writing, changes.other) == ({B}, True)


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
    await until_async(lambda: watched(tmp_path), what="the watch to be set up")

    (tmp_path / ".a.tmp").write_text("date 2024-01 A\n")
    os.replace(tmp_path / ".a.tmp", tmp_path / "001_a.txt")
    assert (await first).ready == {"001_a.txt"}

    writer = (tmp_path / "002_b.txt").open("w")
    writer.write("date 2024-01 B\n")
    writer.flush()
    batch = await next_batch(stream)
    assert batch.ready == set() and batch.other  # still open: not ready
    assert batch.writing == {"002_b.txt"}

    writer.close()
    batch = await next_batch(stream)
    assert (batch.ready, batch.writing, batch.ended) == ({"002_b.txt"}, set(), {"002_b.txt"})
    stop.set()
    await stream.aclose()  # type: ignore[attr-defined]


async def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        await anext(watch.watch(tmp_path / "nope", is_article_name, asyncio.Event()))


async def test_links_made_in_one_step_are_not_open_for_writing(tmp_path: Path) -> None:
    """A symbolic or hard link appears complete (no close follows); a new file does not."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.txt").write_text("date 2024-01 A\n")
    folder = tmp_path / "index"
    folder.mkdir()
    stop = asyncio.Event()
    stream = watch.watch(folder, is_article_name, stop)
    first = asyncio.ensure_future(next_batch(stream))
    await until_async(lambda: watched(folder), what="the watch to be set up")
    os.symlink(outside / "a.txt", folder / "001_a.txt")
    os.link(outside / "a.txt", folder / "002_a.txt")
    os.mkfifo(folder / "003_a.txt")
    fd = os.open(folder / "004_a.txt", os.O_WRONLY | os.O_CREAT)
    seen = Changes()
    batch = await first
    while True:
        seen.writing |= batch.writing
        seen.ended |= batch.ended
        if "004_a.txt" in seen.writing:
            break
        batch = await next_batch(stream)
    assert seen.writing == {"004_a.txt"} and seen.ended == set()
    os.close(fd)
    assert (await next_batch(stream)).ended == {"004_a.txt"}
    stop.set()
    await stream.aclose()  # type: ignore[attr-defined]


async def test_a_folder_put_back_forgets_what_was_open(tmp_path: Path) -> None:
    folder = tmp_path / "index"
    folder.mkdir()
    stop = asyncio.Event()
    stream = watch.watch(folder, is_article_name, stop, poll=0.05)
    first = asyncio.ensure_future(next_batch(stream))
    await until_async(lambda: watched(folder), what="the watch to be set up")
    with (folder / "001_a.txt").open("w") as writer:
        writer.write("date 2024-01 A\n")
        writer.flush()
        assert (await first).writing == {"001_a.txt"}
        folder.rename(tmp_path / "gone")
        folder.mkdir()
        batch = await next_batch(stream)
        while not batch.reset:
            batch = await next_batch(stream)
        assert batch.other and batch.writing == set()
    stop.set()
    await stream.aclose()  # type: ignore[attr-defined]
