"""Reading the index folder and reconciling it with the store: decide, then apply.

`decide` is pure: the files on disk (name, size, mtime) and what is known about
them in, a `Plan` of intents out. Only files whose stat changed are read and
hashed, so re-scanning an unchanged folder is a ``scandir`` + ``stat`` pass and
dict lookups, no SQL. `Indexer.scan` lists the folder, decides, and applies the
plan: it reads and parses what is new or changed, stores it, and reports.

What is read: regular files named like articles directly in the folder, opened
through `feedbot.ingest.files.open_regular`. A name that cannot be published
(`feedbot.articles.names.name_problem`), a symbolic link (unless ``follow_symlinks``,
and then only to a file inside the folder), a FIFO or a device is a bad file:
reported once, remembered by its stat, not read again until that changes. A
file that could not be read (permission denied) is tried again every scan.
Bad files are named relative to the folder. A file its writer still has open
(``writing``: the daemon's watcher saw it created or written and not closed) is
not read until it is closed (`feedbot.ingest.openwrites`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Literal, Protocol

from feedbot.articles.model import Article
from feedbot.articles.names import name_problem
from feedbot.articles.parse import parse
from feedbot.errors import ArticleError, RefusedFileError, UnstorableError
from feedbot.ingest.bulk import Stored, WordsProcess, Writes
from feedbot.ingest.decide import BadFile, FileStat, decide, list_files
from feedbot.ingest.files import kind_problem, open_regular
from feedbot.store.articles import FileRecord, KnownFiles, record_problem

__all__ = ["ArticleStore", "Indexer", "ScanReport"]

log = logging.getLogger("feedbot.index")

BASELINE_KEY = "baseline_done"
BATCH = 256  # articles parsed and stored per transaction (keeps memory flat on a cold start)
#: A scan that reads this many files makes their search words in a second process while
#: it reads on (`feedbot.ingest.bulk`): a first start, a large drop.
WORDS_FROM = 4 * BATCH


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What one scan did."""

    new: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: int
    bad: tuple[str, ...]  # every bad file now, as `name:line: message` (name in the folder)
    unsettled: int
    recheck_in: float | None
    seconds: float
    articles: int  # articles in the feed after the scan
    created: tuple[str, ...] = ()  # ids broadcast (first seen after the baseline, or released)
    examined: int = 0  # files read or refused; those whose stat is unchanged are not
    released: tuple[str, ...] = ()  # ids whose scheduled date came (published now)

    @property
    def changes(self) -> int:
        return len(self.new) + len(self.changed) + len(self.removed) + len(self.released)


class ArticleStore(Protocol):
    """What the indexer needs from the store (called from the scan thread, never the loop)."""

    @property
    def dialect(self) -> str: ...

    def known_files(self) -> KnownFiles: ...
    def get_state(self, key: str) -> str | None: ...
    def begin_changes(
        self,
        records: Sequence[FileRecord],
        removals: Sequence[str],
        now: datetime,
        *,
        broadcast: bool,
        state_updates: Mapping[str, str] | None = None,
    ) -> Callable[[], list[str]]: ...
    def release_due(self, now: datetime) -> list[str]: ...
    def complete_search(self, stop: Callable[[], bool] | None = None) -> bool: ...
    def tidy_search(self, stop: Callable[[], bool] | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Read:
    stat: FileStat
    digest: str
    article: Article | None
    error: ArticleError | None
    retry: bool = False  # the error came from reading, not from the file (see BadFile)


class Indexer:
    """Reconciles one folder with the store; keeps what it knows in memory between scans.

    What a new article owes Telegram (the subscriptions, the channels, the delay) is the
    store's business: it queues the deliveries in the transaction that stores the article
    (`feedbot.store.articles.Articles.publish_with`)."""

    def __init__(
        self,
        folder: Path,
        store: ArticleStore,
        *,
        max_bytes: int,
        settle_ms: int,
        follow_symlinks: bool = False,
        report_bad: bool = True,
        words_from: int | None = WORDS_FROM,
    ) -> None:
        self.folder = folder
        self.report_bad = report_bad  # log each bad file (once per version) as a warning
        self.follow_symlinks = follow_symlinks
        self.store = store
        self.max_bytes = max_bytes
        self.settle_ms = settle_ms
        self.words_from = words_from  # see WORDS_FROM; None: never a second process
        self.known: KnownFiles = store.known_files()
        self.bad: dict[str, BadFile] = {}
        self.baseline_done = store.get_state(BASELINE_KEY) is not None
        self.searchable = False  # the search index is complete (checked by the first scan)

    def reload(self) -> None:
        """Read what the store knows again (a replica that becomes the leader: the one
        before it may have stored files since)."""
        self.known = self.store.known_files()
        self.baseline_done = self.store.get_state(BASELINE_KEY) is not None
        self.searchable = False

    def _read(self, f: FileStat) -> _Read | None:
        """Read, hash and parse one file; None when it changed while being read."""
        name = f.name  # errors name the file relative to the folder
        problem = name_problem(name) or kind_problem(f.mode, follow_symlinks=self.follow_symlinks)
        if problem is not None:
            return _Read(f, f"refused:{problem}", None, ArticleError(name, 0, problem))
        # A str, not a Path: a path interns its parts (see `feedbot.articles.parse.file_stem`).
        path = os.path.join(self.folder, name)
        try:
            fd = open_regular(path, follow_symlinks=self.follow_symlinks, within=self.folder)
            with open(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if (st.st_size, st.st_mtime_ns) != (f.size, f.mtime_ns):
                    return None
                if st.st_size > self.max_bytes:
                    digest = f"size:{st.st_size}"
                    msg = f"file is {st.st_size:,} bytes, over the limit of {self.max_bytes:,}"
                    return _Read(f, digest, None, ArticleError(name, 0, msg))
                data = fh.read(self.max_bytes + 1)
                after = os.fstat(fh.fileno())
        except RefusedFileError as e:
            return _Read(f, f"refused:{e}", None, ArticleError(name, 0, str(e)))
        except FileNotFoundError:
            return None
        except OSError as e:
            error = ArticleError(name, 0, f"cannot read the file: {e.strerror or e}")
            return _Read(f, f"error:{e.errno}", None, error, retry=True)
        if (after.st_size, after.st_mtime_ns) != (f.size, f.mtime_ns) or len(data) != f.size:
            return None
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        try:
            return _Read(f, digest, parse(name, data, max_bytes=self.max_bytes), None)
        except ArticleError as e:
            return _Read(f, digest, None, e)

    def scan(
        self,
        now: datetime | None = None,
        *,
        stop: Callable[[], bool] | None = None,
        ready: Collection[str] = (),
        writing: Collection[str] = (),
    ) -> ScanReport:
        """List the folder, decide, apply; raises OSError when the folder cannot be listed.

        ``stop`` is asked between batches: when it says so the scan ends early (what was
        stored stays stored; removals and the baseline wait for a complete scan).
        ``ready`` names files known to be complete, ``writing`` files still open in their
        writer (see `decide`)."""
        start = time.perf_counter()
        now = now or datetime.now(UTC)
        if not self.searchable:  # once: a database from before search, or new search words
            self.searchable = self.store.complete_search(stop)
        self.store.tidy_search(stop)  # after a bulk (the last scan's, a backfill): merged once
        same: list[str] = []
        files = list_files(
            self.folder, follow_symlinks=self.follow_symlinks, known=self.known, same=same
        )
        plan = decide(
            files,
            self.known,
            now,
            self.settle_ms,
            bad=self.bad,
            ready=ready,
            same=same,
            writing=writing,
        )
        broadcast = self.baseline_done
        new: list[str] = []
        changed: list[str] = []
        unsettled = len(plan.unsettled)
        examined = 0
        todo = [(f, False) for f in plan.new] + [(f, True) for f in plan.changed]
        removed_ids = [self.known[name].article_id for name in plan.removed]
        if self.bad:
            on_disk = {f.name for f in files}.union(same)
            for name in [n for n in self.bad if n not in on_disk]:
                del self.bad[name]
        complete = True
        bulk = self.words_from is not None and len(todo) >= self.words_from
        # A server's writes overlap the next batch's reading; of SQLite's, only what runs
        # without Python's lock: FTS5's work and the commit (see `Writes`).
        overlap: Literal["all", "finish"] | None = None
        if bulk:
            overlap = "all" if self.store.dialect == "postgresql" else "finish"
        with (
            self._words(bulk) as words,
            Writes(lambda: self.known, overlap=overlap) as writes,
        ):
            for offset in range(0, max(len(todo), 1), BATCH):
                if offset and stop is not None and stop():
                    complete = False
                    unsettled += len(todo) - offset
                    break
                upserts: list[FileRecord] = []
                edited: dict[str, list[str]] = {}  # file name -> the list its id joins when stored
                for f, was_known in todo[offset : offset + BATCH]:
                    read = self._read(f)
                    examined += 1
                    if read is None:
                        unsettled += 1
                        continue
                    known = self.known.get(f.name)
                    if read.article is None:
                        assert read.error is not None
                        self._bad(f, read)
                        continue
                    record = FileRecord(read.article, f.name, f.size, f.mtime_ns, read.digest)
                    if problem := record_problem(record):
                        self._bad(f, _Read(f, read.digest, None, ArticleError(f.name, 0, problem)))
                        continue
                    self.bad.pop(f.name, None)
                    upserts.append(record)
                    if words is not None:
                        words.add(record)
                    if known is None or known.content_hash != read.digest:  # else touched only
                        edited[f.name] = changed if was_known else new
                last = offset + BATCH >= len(todo)
                state = {}
                if last and not self.baseline_done:
                    state[BASELINE_KEY] = now.isoformat()
                removals = removed_ids if last else []
                if words is not None:
                    upserts = words.attach(upserts)
                if upserts or removals or state:
                    batch = partial(self.begin_batch, upserts, removals, now, broadcast, state)
                    writes.store(batch, edited)
        created = writes.created
        released: list[str] = []
        if complete:
            for name in plan.removed:
                del self.known[name]
            self.baseline_done = True
            released = self.release_due(now)
        else:
            removed_ids = []
        return ScanReport(
            new=tuple(new),
            changed=tuple(changed),
            removed=tuple(removed_ids),
            unchanged=plan.unchanged,
            bad=tuple(b.error for b in self.bad.values()),
            unsettled=unsettled,
            recheck_in=plan.recheck_in if unsettled == len(plan.unsettled) else self._recheck(),
            seconds=time.perf_counter() - start,
            articles=len(self.known),
            created=(tuple(created) if broadcast else ()) + tuple(released),
            examined=examined,
            released=tuple(released),
        )

    def _words(self, bulk: bool) -> AbstractContextManager[WordsProcess | None]:
        """A process to make the search words of a bulk scan (`WORDS_FROM`)."""
        return WordsProcess(self.store.dialect) if bulk else nullcontext()

    def begin_batch(
        self,
        upserts: list[FileRecord],
        removals: Sequence[str],
        now: datetime,
        broadcast: bool,
        state: Mapping[str, str],
    ) -> Callable[[], Stored]:
        """Store one batch in the two steps of `ArticleStore.begin_changes`: this one,
        and the function it returns, which commits and gives (the ids queued for
        broadcast, the records stored).

        When the database refuses the batch's values, each file is stored on its own and
        one that is refused again becomes a bad file naming why; the rest go on (all of
        it in this step)."""

        def write(records: Sequence[FileRecord], *, rest: bool) -> Callable[[], list[str]]:
            """Store ``records``, and with ``rest`` the batch's removals and state too."""
            return self.store.begin_changes(
                records,
                removals if rest else (),
                now,
                broadcast=broadcast,
                state_updates=state if rest else None,
            )

        try:
            finish = write(upserts, rest=True)
            return lambda: (finish(), upserts)
        except UnstorableError:
            if not upserts:
                raise  # removals or state alone: no file to blame
        created: list[str] = []
        stored: list[FileRecord] = []
        for record in upserts:
            try:
                created += write([record], rest=False)()
            except UnstorableError as e:
                f = FileStat(record.name, record.size, record.mtime_ns)
                error = ArticleError(record.name, 0, f"cannot be stored in the database: {e}")
                self._bad(f, _Read(f, record.content_hash, None, error))
                continue
            stored.append(record)
        if removals or state:
            created += write([], rest=True)()
        return lambda: (created, stored)

    def release_due(self, now: datetime | None = None) -> list[str]:
        """Publish the articles whose scheduled date has come (the ids)."""
        now = now or datetime.now(UTC)
        return self.store.release_due(now)

    def _recheck(self) -> float:
        return max(self.settle_ms / 1000, 0.05)

    def _bad(self, f: FileStat, read: _Read) -> None:
        previous = self.bad.get(f.name)
        assert read.error is not None
        self.bad[f.name] = BadFile(f.size, f.mtime_ns, read.digest, str(read.error), read.retry)
        if self.report_bad and (previous is None or previous.content_hash != read.digest):
            log.warning("%s", read.error)
