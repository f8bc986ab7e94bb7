"""The SQLite file's surroundings: one daemon per file, a writable place, an intact file.

`DbLock` takes an exclusive ``flock`` on ``<database>.lock`` beside the database for
the life of the process, so a second daemon on the same file is refused. The lock
file also remembers that a database was created here: if the database later goes
missing while the index has articles, a fresh one would take them all as a
baseline and post none of them, so `check_baseline` refuses to start without
``feedbot run --baseline``. The very first start of a deployment (no lock file, or
one that never saw a database) is a legitimate baseline and needs no flag.

`check_writable` refuses a read-only database or folder at start; `damage`
reads ``PRAGMA integrity_check``'s first message; `FileIdentity` notices when the
path no longer names the file the daemon has open (deleted or replaced).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from feedbot.errors import SchemaTooNewError, StoreError

__all__ = [
    "DbLock",
    "FileIdentity",
    "InUseError",
    "check_baseline",
    "check_writable",
    "damage",
    "explained",
    "lock_path",
]

log = logging.getLogger("feedbot.store")

_CREATED = "database-created "


class InUseError(StoreError):
    """Another process holds the database's lock; ``holder`` is the pid it recorded."""

    def __init__(self, database: Path, holder: str) -> None:
        super().__init__(
            f"{database}: another feedbot (pid {holder}) is running on this database; "
            "one daemon per SQLite file"
        )
        self.database = database
        self.holder = holder


def lock_path(database: Path) -> Path:
    """``<database>.lock``, beside the database."""
    return database.with_name(database.name + ".lock")


class DbLock:
    """An exclusive lock on one database for this process's life (`acquire`, `release`)."""

    def __init__(self, fd: int, path: Path, database: Path, created: str | None) -> None:
        self._fd = fd
        self.path = path
        self.database = database
        self.created = created  # when a database was first created here, if ever

    @classmethod
    def acquire(cls, database: Path) -> DbLock:
        """Take the lock, or raise `InUseError` naming the process that holds it."""
        path = lock_path(database)
        try:
            database.parent.mkdir(parents=True, exist_ok=True)
            # never through a link: a planted one would have us truncate what it points to
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as e:
            raise StoreError(f"{path}: cannot create the lock file: {e.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd).get("pid", "?")
            os.close(fd)
            raise InUseError(database, holder) from None
        lock = cls(fd, path, database, _read(fd).get("created"))
        lock._write()
        return lock

    def record_database(self) -> None:
        """Remember that a database exists here (once: the first creation time is kept)."""
        if self.created is None:
            self.created = datetime.now(UTC).isoformat(timespec="seconds")
            self._write()

    def _write(self) -> None:
        text = f"pid {os.getpid()}\n"
        if self.created is not None:
            text += f"{_CREATED}{self.created}\n"
        with contextlib.suppress(OSError):  # the lock holds even if the note cannot be written
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, text.encode(), 0)

    def release(self) -> None:
        """Let go of the lock (closing the descriptor releases it)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _read(fd: int) -> dict[str, str]:
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return {}
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("pid "):
            found["pid"] = line[4:].strip()
        elif line.startswith(_CREATED):
            found["created"] = line[len(_CREATED) :].strip()
    return found


def check_baseline(lock: DbLock, articles: int, *, allowed: bool) -> None:
    """Refuse to create a database over a non-empty index where one existed before.

    ``articles`` is the number of article files in the index now; ``allowed`` is
    ``feedbot run --baseline``. Logs what happens when a fresh database is created.
    """
    database = lock.database
    if database.exists() or articles == 0:
        return
    if lock.created is not None and not allowed:
        raise StoreError(
            f"{database}: the database is missing, but one was created here on {lock.created} "
            f"(see {lock.path}); a new one would take the {articles} articles in the index as "
            "already posted. Restore the database, or accept that with `feedbot run --baseline`"
        )
    log.warning(
        "new database %s: the %d articles already in the index are taken as a baseline; "
        "they are served but no post goes out for them",
        database,
        articles,
    )


def check_writable(database: Path) -> None:
    """Raise `StoreError` when the database (or its WAL files) or its folder cannot be written."""
    folder = database.parent
    probe = folder / f".{database.name}.write-test-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise StoreError(f"{folder}: the database folder is not writable: {e.strerror}") from None
    for path in (database, database.with_name(database.name + "-wal")):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        except OSError as e:
            raise StoreError(f"{path}: the database is not writable: {e.strerror}") from None
        os.close(fd)


def damage(database: Path) -> str | None:
    """The first message of ``PRAGMA integrity_check`` when it is not ``ok`` (None when intact)."""
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            row = conn.execute("PRAGMA integrity_check(1)").fetchone()
    except sqlite3.Error as e:
        return str(e)
    message = str(row[0]) if row else "no answer"
    return None if message == "ok" else " ".join(message.split())


@contextmanager
def explained(database: Path) -> Iterator[None]:
    """Turn a database error at start into one line; a damaged file says what is damaged."""
    try:
        yield
    except SchemaTooNewError:
        raise
    except (StoreError, SQLAlchemyError, sqlite3.Error) as e:
        found = damage(database) if database.exists() else None
        if found is not None:
            raise StoreError(
                f"{database}: the database is damaged (PRAGMA integrity_check: {found}); "
                "restore it from a backup"
            ) from None
        if isinstance(e, StoreError):
            raise
        raise StoreError(f"{database}: {getattr(e, 'orig', None) or e}") from None


@dataclass(frozen=True, slots=True)
class FileIdentity:
    """The device and inode of the open database, to notice it being deleted or replaced."""

    path: Path
    device: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        st = path.stat()
        return cls(path, st.st_dev, st.st_ino)

    def problem(self) -> str | None:
        """None while the path still names the open file; else what happened to it
        (without the path: ``/healthz`` shows it)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return "the database file was deleted; writes go nowhere (restart to fix)"
        except OSError as e:
            return f"cannot check the database file: {e.strerror}"
        if (st.st_dev, st.st_ino) != (self.device, self.inode):
            return "the database file was replaced; writes go to the old one"
        return None
