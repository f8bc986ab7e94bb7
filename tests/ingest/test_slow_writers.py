"""A file written slowly reaches the feed and the chats once, complete.

A real ``feedbot run`` (inotify watcher on, the Bot API emulator with a subscribed chat
and a channel) and a real writer process that writes half an article, pauses with the
file open, then writes the rest and closes it. Also: the bound for a writer that never
closes (``index.open_write_timeout``), the settle rule without the watcher, and a file
found at start.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from feedbot.fakegram import FakeBotAPI
from feedbot.ingest import watch
from tests.botkit import TOKEN
from tests.daemonkit import Daemon, atomic_write, entries
from tests.waiting import until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not watch.available(), reason="inotify is Linux-only"),
]

CHANNEL, CHANNEL_NAME, USER = -1009000, "news_channel", 501
PLAYGROUND_CHANNEL = -1001000000103  # feedbot.playground.service: the default channel
HEADLINE = "Un articolo scritto piano"
HEAD = (
    f"date 2024-05-02 {HEADLINE}.\n\nPrima parte\n\nLa prima metà arriva subito, in un colpo.\n\n"
)
TAIL = "Seconda parte\n\nLa seconda metà arriva dopo una lunga pausa del programma.\n"

# Writes HEAD, says when it starts its pause (its monotonic clock is the system's), pauses
# with the file open (a negative pause: until told on stdin), writes TAIL, holds the file
# open a while longer, closes it.
WRITER = """
import sys, time
path, pause, hold, head, tail = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), *sys.argv[4:]
with open(path, "w", encoding="utf-8") as fh:
    fh.write(head)
    fh.flush()
    print("half", time.monotonic(), flush=True)
    time.sleep(pause) if pause >= 0 else sys.stdin.readline()
    fh.write(tail)
    fh.flush()
    print("whole", time.monotonic(), flush=True)
    time.sleep(hold)
"""


class Writer:
    """The writer process on ``path``; `said` waits for one of its lines: its time."""

    def __init__(self, path: Path, pause: float, hold: float = 0.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(pause), str(hold), HEAD, TAIL],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def said(self, word: str) -> float:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        assert line and line[0] == word, line
        return float(line[1])

    def resume(self) -> None:
        """End a pause that waits to be told."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI(TOKEN).start_in_thread()
    server.add_chat(CHANNEL, "channel", username=CHANNEL_NAME)
    try:
        yield server
    finally:
        server.stop_thread()


@pytest.fixture
def index(tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    folder.mkdir()
    atomic_write(folder, "001_base.txt", "date 2024-05-01 Base.\n\nThe baseline article.\n")
    hour_ago = time.time() - 3600
    os.utime(folder / "001_base.txt", (hour_ago, hour_ago))  # settled long ago
    return folder


def env_for(index: Path, **more: str) -> dict[str, str]:
    return {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__PATH": str(index.parent / "var" / "db.sqlite3"),
        "FEEDBOT_HTTP__PORT": "0",
        "FEEDBOT_LOG__LEVEL": "DEBUG",
        "FEEDBOT_INDEX__SCAN_INTERVAL": "0.5",  # interval scans look at the quiet file
        **{f"FEEDBOT_{k.upper()}": v for k, v in more.items()},
    }


@pytest.fixture
def bot(index: Path, fake: FakeBotAPI, start: Callable[..., Daemon]) -> Callable[..., Daemon]:
    """Start the daemon with the bot (a channel, and a user who sent /start)."""

    def run(**more: str) -> Daemon:
        d = start(
            env_for(
                index,
                telegram__token=TOKEN,
                telegram__api_base_url=fake.base_url,
                telegram__channels=f'["@{CHANNEL_NAME}"]',
                **more,
            )
        )
        d.wait_started(timeout=30)
        fake.command("/start", chat_id=USER, language_code="it")
        until(lambda: fake.texts(USER) and d.alive, timeout=30, what="the welcome")
        return d

    return run


def posts(fake: FakeBotAPI, word: str = HEADLINE) -> list[Any]:
    """Messages sent (to any chat) that contain ``word``."""
    return [s for s in fake.sent if word in s.text]


@pytest.mark.parametrize("pause", [2.0, 5.0])
def test_a_writer_that_pauses_is_published_once_complete_after_it_closes(
    pause: float, index: Path, fake: FakeBotAPI, bot: Callable[..., Daemon]
) -> None:
    d = bot()
    writer = Writer(index / "002_slow.txt", pause)
    try:
        paused_at = writer.said("half")
        looked = 0
        # The writer is in its pause until at least paused_at + pause: whatever is seen
        # before then was seen while it had the file open, half-written.
        while True:
            in_feed, sent = "002_slow" in entries(d), posts(fake)
            if time.monotonic() >= paused_at + pause:
                break
            assert not in_feed and not sent, f"published while still being written: {sent}"
            looked += 1
            time.sleep(0.1)
        assert looked >= 5, "the test did not look during the pause"
        writer.said("whole")
        assert writer.proc.wait(timeout=30) == 0
    finally:
        writer.close()

    entry = until(lambda: entries(d).get("002_slow"), timeout=15, what="the closed file")
    assert "Prima parte" in entry.content[0].value and "Seconda parte" in entry.content[0].value
    until(lambda: {s.chat_id for s in posts(fake)} >= {USER, CHANNEL}, timeout=15, what="posts")
    # Another article after it: once its posts are out, anything owed for the slow one is too.
    atomic_write(index, "003_next.txt", "date 2024-05-03 Dopo.\n\nThe next article.\n")
    until(lambda: len(posts(fake, "Dopo")) == 2, timeout=15, what="the next article's posts")
    sent = posts(fake)
    assert sorted(s.chat_id for s in sent) == sorted([USER, CHANNEL]), sent  # once per chat
    assert all("Prima parte" in s.text and "Seconda parte" in s.text for s in sent)
    assert fake.done("editmessagetext") == []  # no correction: it was never half-published
    assert d.stop()[0] == 0
    assert "Traceback" not in d.log


def test_a_writer_that_never_closes_is_read_after_the_timeout_with_a_warning(
    index: Path, fake: FakeBotAPI, bot: Callable[..., Daemon]
) -> None:
    d = bot(index__open_write_timeout="2")
    writer = Writer(index / "002_slow.txt", pause=0.0, hold=120.0)
    try:
        writer.said("half")
        written = writer.said("whole")
        warning = r"WARNING .*002_slow\.txt: still open for writing, with no write for ([\d.]+)s"

        def published() -> bool:
            in_feed = "002_slow" in entries(d)  # first: the warning comes before the read
            warned = re.search(warning, d.log)
            assert not in_feed or warned, "read while open before the timeout"
            return in_feed

        until(published, timeout=30, what="the file read after the timeout")
        assert time.monotonic() - written >= 2.0
        found = re.search(warning, d.log)
        assert found is not None and float(found.group(1)) >= 2.0
        assert "no close; reading it as it is (index.open_write_timeout)" in d.log
        until(lambda: {s.chat_id for s in posts(fake)} >= {USER, CHANNEL}, timeout=15, what="posts")
        assert all("Seconda parte" in s.text for s in posts(fake))
        assert len(re.findall(warning, d.log)) == 1  # warned once
    finally:
        writer.close()
    assert d.stop()[0] == 0


def test_without_the_watcher_the_settle_rule_alone_decides(
    index: Path, start: Callable[..., Daemon]
) -> None:
    """``index.watch = false``: nothing knows the writer has the file open; a file quiet for
    ``settle_ms`` is read as it is (the documented limit), long before the open-write bound."""
    d = start(env_for(index, index__watch="false", index__settle_ms="300"))
    d.wait_started()
    writer = Writer(index / "002_slow.txt", pause=120.0)
    try:
        paused_at = writer.said("half")
        entry = until(lambda: entries(d).get("002_slow"), timeout=15, what="the half file")
        assert time.monotonic() - paused_at >= 0.3
        assert writer.proc.poll() is None  # still open: the settle rule read it half-written
        assert "Prima parte" in entry.content[0].value
        assert "Seconda parte" not in entry.content[0].value
    finally:
        writer.close()
    assert "still open for writing" not in d.log
    assert d.stop()[0] == 0


def test_a_file_found_at_start_follows_the_settle_rule(
    index: Path, start: Callable[..., Daemon]
) -> None:
    """No watcher event tells about a file written just before the start: it waits for
    ``settle_ms`` from its mtime, then is read without any event."""
    atomic_write(index, "002_fresh.txt", HEAD + TAIL)
    # settle_ms well above the start-up time, also on a machine busy with parallel workers
    d = start(env_for(index, index__settle_ms="12000", index__scan_interval="60"))
    d.wait_started(timeout=30)
    first = re.search(r"(\S+ \S+) \w+ feedbot.daemon: scan \(start\): (.*)", d.log)
    assert first is not None, d.log
    at = datetime.strptime(first.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    mtime = (index / "002_fresh.txt").stat().st_mtime
    assert at - mtime < 12.0, "the start took longer than settle_ms: nothing to see"
    assert first.group(2).startswith("1 new,") and " 1 unsettled " in first.group(2)
    until(lambda: "002_fresh" in entries(d), timeout=21, what="the settled file")
    assert time.time() - mtime >= 12.0
    assert re.search(r"scan \(settle\): 1 new", d.log), d.log
    assert d.stop()[0] == 0


def test_the_playground_channel_gets_it_once_complete_too(
    index: Path, start: Callable[..., Daemon]
) -> None:
    """With no token the playground runs and scans the folder into its own database (at
    every change the daemon reports): it too leaves the open file alone until it is closed,
    though another article published meanwhile makes it scan."""
    d = start(env_for(index))
    d.wait_started(timeout=30)
    until(lambda: d.get("playground/api/state").json()["running"], timeout=30, what="playground")

    def channel(word: str = HEADLINE) -> list[dict[str, Any]]:
        found = d.get(f"playground/api/messages?chat={PLAYGROUND_CHANNEL}").json()["messages"]
        return [m for m in found if word in m["text"]]

    writer = Writer(index / "002_slow.txt", pause=-1)
    try:
        paused_at = writer.said("half")
        settled = paused_at + 1.0  # quiet for twice settle_ms: the settle rule would read it
        until(lambda: time.monotonic() > settled, timeout=5, what="a quiet second")
        atomic_write(index, "003_next.txt", "date 2024-05-03 Dopo.\n\nThe next article.\n")
        until(lambda: channel("Dopo"), timeout=15, what="the next article in the playground")
        assert "003_next" in entries(d)
        assert not channel() and "002_slow" not in entries(d), "published while being written"
        writer.resume()
        assert writer.proc.wait(timeout=30) == 0
    finally:
        writer.close()
    [post] = until(channel, timeout=15, what="the playground post")
    assert "Prima parte" in post["text"] and "Seconda parte" in post["text"]
    assert not post["edited"]
    assert d.stop()[0] == 0
