"""What a large scan does differently: its search words are made in a second process,
and on a database server its writes overlap its reading.

Making an article's search words (`feedbot.search.words`) costs about a third of what
reading, parsing and storing it cost, all of it Python, so one process cannot overlap
it with anything. When a scan has many files to read (a first start on an archive, a
large drop), the indexer hands each parsed article's `Parts` to a child process that
makes its index row (`Document.row`, in the store's form) while the scan parses the
next files; the rows come back before the batch is stored and go in with it, in the
same transaction as the articles. The child holds no state but the stemmers' caches and
lives only for that scan (about 20 MB).

Nothing depends on the child: an article whose row did not come back (the child could
not start, died, or took longer than `WAIT`) is made by the store itself, as a small
scan's are, and the words are the same either way (the same code makes them). Frames on
the pipes are `marshal` data (strings and tuples) behind an 8-byte length; the child
reads its standard input until it closes, so it ends with the scan or with its parent.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import marshal
import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any, Literal

from feedbot.search.words import IndexRow, Parts, document_of, parts

if TYPE_CHECKING:  # the child imports no more than it needs (no SQLAlchemy)
    from feedbot.store.articles import FileRecord
    from feedbot.store.known import KnownFiles

__all__ = ["CHUNK", "CHUNK_CHARS", "WAIT", "Stored", "WordsProcess", "Writes", "main"]

log = logging.getLogger("feedbot.ingest")

#: Articles sent to the child at a time: small enough that the last chunk of a batch is
#: ready soon after the scan has parsed it, large enough that a frame costs little.
CHUNK = 16
#: ... or fewer, once their text passes this many characters (articles of up to
#: `index.max_file_bytes` each would otherwise make frames of many megabytes).
CHUNK_CHARS = 1 << 20
#: Seconds the scan waits for a chunk's rows before it makes them itself.
WAIT = 30.0
_LENGTH = struct.Struct(">Q")
#: What storing a batch gives: the ids queued for broadcast, the records stored.
Stored = tuple[list[str], list["FileRecord"]]


class WordsProcess:
    """A child process that makes index rows for ``dialect`` ("sqlite" or "postgresql").

    `add` queues a record's article (sent every `CHUNK`); `attach` returns the records
    added since the last call with their rows (`FileRecord.words`) where the child gave
    them. The pipes are written and read by the scan's own thread, without blocking
    while it reads files: a thread of their own would wait for Python's lock at every
    read and write, as long as the scan holds it (up to 5 ms each time)."""

    def __init__(self, dialect: str) -> None:
        self.made = 0  # articles whose rows came back
        self.frames = 0  # frames sent
        self._pending: list[Parts] = []
        self._chars = 0  # the text of the articles pending
        self._sent: list[int] = []  # the size of each frame sent and not yet answered
        self._rows: list[IndexRow | None] = []  # answered, in the order added
        self._out = bytearray()  # frames not yet written to the child
        self._in = bytearray()  # what the child wrote, not yet a whole frame
        self._child: subprocess.Popen[bytes] | None = None
        try:
            self._child = subprocess.Popen(
                [sys.executable, "-m", "feedbot.ingest.bulk", dialect],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
        except OSError as e:
            log.warning("cannot start the search words process (%s): the scan makes them", e)
            return
        assert self._child.stdin is not None and self._child.stdout is not None
        self._to, self._from = self._child.stdin.fileno(), self._child.stdout.fileno()
        for fd in (self._to, self._from):
            os.set_blocking(fd, False)
            with contextlib.suppress(OSError, AttributeError):  # Linux: room for frames
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)

    def add(self, record: FileRecord) -> None:
        """Queue the words of ``record``'s article."""
        made = parts(record.article)
        self._pending.append(made)
        self._chars += len(made[1]) + sum(map(len, made[2])) + sum(map(len, made[3]))
        if len(self._pending) >= CHUNK or self._chars >= CHUNK_CHARS:
            self._send()

    def attach(self, records: list[FileRecord]) -> list[FileRecord]:
        """``records``, the ones added since the last call in order, with their rows."""
        self._send()
        deadline = time.monotonic() + WAIT
        while self._sent and self._child is not None:
            answered = len(self._rows)
            self._pump(max(0.0, deadline - time.monotonic()))
            if len(self._rows) > answered:
                deadline = time.monotonic() + WAIT  # WAIT without an answer, not in all
            elif time.monotonic() >= deadline:
                self._lose("the search words process does not answer", kill=True)
        rows, self._rows = self._rows, []
        return [r if w is None else replace(r, words=w) for r, w in zip(records, rows, strict=True)]

    def close(self) -> None:
        """End the child (it finishes nothing more) and wait for it."""
        child, self._child = self._child, None
        if child is None:
            return
        peak = _peak_rss(child.pid)
        _end(child, kill=False)
        log.info(
            "made the search words of %d articles in a second process (peak RSS %s)",
            self.made,
            "unknown" if peak is None else f"{peak / 1024:.1f} MB",
        )

    def __enter__(self) -> WordsProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self) -> None:
        if not self._pending:
            return
        batch, self._pending, self._chars = self._pending, [], 0
        self.frames += 1
        if self._child is None:
            self._rows += [None] * len(batch)
            return
        data = marshal.dumps(batch)
        self._out += _LENGTH.pack(len(data))
        self._out += data
        self._sent.append(len(batch))
        self._pump(0)

    def _pump(self, timeout: float) -> None:
        """Write what the pipe takes, read what the child wrote; wait up to ``timeout``
        for either when neither can be done at once."""
        poll = select.poll()  # not select(): a busy daemon's descriptors pass 1,024
        poll.register(self._from, select.POLLIN)
        if self._out:
            poll.register(self._to, select.POLLOUT)
        ready = dict(poll.poll(timeout * 1000))
        writable = ready.get(self._to, 0) & (select.POLLOUT | select.POLLERR)
        readable = ready.get(self._from, 0) & (select.POLLIN | select.POLLHUP | select.POLLERR)
        try:
            if writable:
                with contextlib.suppress(BlockingIOError):
                    del self._out[: os.write(self._to, self._out)]
            if readable:
                with contextlib.suppress(BlockingIOError):
                    data = os.read(self._from, 1 << 20)
                    if not data:
                        raise EOFError("it ended")
                    self._in += data
                    self._frames_in()
        except (OSError, EOFError, ValueError, TypeError) as e:
            self._lose(f"the search words process was lost ({e})", kill=False)

    def _frames_in(self) -> None:
        """Take the whole frames out of what the child wrote."""
        while len(self._in) >= _LENGTH.size:
            (size,) = _LENGTH.unpack_from(self._in)
            if len(self._in) < _LENGTH.size + size:
                return
            rows = marshal.loads(self._in[_LENGTH.size : _LENGTH.size + size])  # noqa: S302 (our child's)
            del self._in[: _LENGTH.size + size]
            expected = self._sent.pop(0)
            if not isinstance(rows, list) or len(rows) != expected:
                raise ValueError("a frame of the wrong size")
            self._rows += rows
            self.made += expected

    def _lose(self, why: str, *, kill: bool) -> None:
        """Go on without the child: the articles it did not answer get no row."""
        log.warning("%s: the scan makes the search words", why)
        for size in self._sent:
            self._rows += [None] * size
        self._sent.clear()
        self._out.clear()
        child, self._child = self._child, None
        if child is not None:
            _end(child, kill=kill)


def _end(child: subprocess.Popen[bytes], *, kill: bool) -> None:
    """Close the child's input (it then ends), or kill it; wait for it."""
    if kill:
        child.kill()
    for stream in (child.stdin, child.stdout):
        with contextlib.suppress(OSError):
            if stream is not None:
                stream.close()
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


class Writes:
    """The batches one scan stores, one at a time and in order, each in two steps (what
    `Articles.begin_changes` does, then the function it returns): both at once; or with
    ``overlap`` in a thread while the scan reads the next batch, both steps ("all": a
    database server's writes) or the second only ("finish": SQLite's, whose first step
    is mostly Python and would take turns with the reading for Python's lock, while its
    second, FTS5's work and the commit, is all SQLite's). The batch before is waited for
    first. What each stored joins the indexer's known files, and its file's list."""

    def __init__(
        self, known: Callable[[], KnownFiles], *, overlap: Literal["all", "finish"] | None
    ) -> None:
        self._known = known
        self.created: list[str] = []  # ids queued for broadcast
        self._overlap = overlap
        self._pool = ThreadPoolExecutor(1, "scan-writes") if overlap else None
        self._pending: tuple[Future[Stored], dict[str, list[str]]] | None = None

    def store(
        self, write: Callable[[], Callable[[], Stored]], edited: dict[str, list[str]]
    ) -> None:
        """Store a batch by ``write`` (the first step, which returns the second);
        ``edited`` maps its file names to the lists their ids join once stored."""
        self.settle()
        if self._pool is None:
            self._record(write()(), edited)
        elif self._overlap == "all":
            self._pending = self._pool.submit(lambda: write()()), edited
        else:
            self._pending = self._pool.submit(write()), edited

    def settle(self) -> None:
        """Wait for the batch being stored, and record it."""
        if self._pending is not None:
            (future, edited), self._pending = self._pending, None
            self._record(future.result(), edited)

    def _record(self, stored: Stored, edited: dict[str, list[str]]) -> None:
        created, records = stored
        self.created += created
        known = self._known()
        for record in records:
            known[record.name] = record.known()
            if (ids := edited.get(record.name)) is not None:
                ids.append(record.article.id)

    def __enter__(self) -> Writes:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.settle()  # what was sent to the database is waited for, error or not
        finally:
            if self._pool is not None:
                self._pool.shutdown()


def _peak_rss(pid: int) -> int | None:
    """A live process's peak resident memory in KiB (Linux), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _write(stream: IO[bytes], value: Any) -> None:
    data = marshal.dumps(value)
    stream.write(_LENGTH.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read(stream: IO[bytes]) -> Any:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("the stream ended")
    (size,) = _LENGTH.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the stream ended within a frame")
    return marshal.loads(data)  # noqa: S302 (the parent's frames)


def main(argv: Sequence[str] | None = None) -> int:
    """The child: read frames of `Parts`, answer each with their rows, until the end."""
    (dialect,) = sys.argv[1:] if argv is None else argv
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        # Ctrl-C, a stop or a reload sent to the whole group are the parent's to handle:
        # the child ends when the parent closes its input (or dies)
        signal.signal(signum, signal.SIG_IGN)
    stdin, frames = os.fdopen(0, "rb"), os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print goes to the log, not into a frame
    while True:
        try:
            batch = _read(stdin)
        except EOFError:
            return 0
        try:
            _write(frames, [document_of(p).row(dialect) for p in batch])
        except BrokenPipeError:  # the parent is gone (killed): nobody wants the rows
            return 0


if __name__ == "__main__":
    sys.exit(main())
