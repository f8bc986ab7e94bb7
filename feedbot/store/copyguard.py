"""Who else is using the databases of `feedbot copy-db`.

A copy is a snapshot of one moment: whatever a running daemon sends and records after
it is missing from the copy, and a daemon started on the copy sends those posts again.
So the copy takes each SQLite end's one-daemon lock (`feedbot.store.dbfile.DbLock`) while it
runs, which also keeps a daemon from starting on either end meanwhile, and refuses an
end that a running daemon holds: the source unless ``live`` (then it warns what can go
out twice), the target always. On PostgreSQL a live leader lease means replicas run.
"""

from __future__ import annotations

from collections.abc import Callable

from feedbot.errors import StoreError
from feedbot.store import Database
from feedbot.store.copy import (
    CopyReport,
    Progress,
    copy_database,
    leader_of,
    open_location,
    sqlite_file,
)
from feedbot.store.dbfile import DbLock, InUseError

__all__ = ["check_servers", "copy_locations", "lock_ends"]


def copy_locations(
    source: str,
    target: str,
    *,
    force: bool,
    live: bool,
    warn: Callable[[str], None],
    progress: Progress | None = None,
) -> tuple[CopyReport, tuple[str, str]]:
    """`feedbot copy-db`: lock, open and check both ends, copy; the report and the two
    databases' names (passwords masked). Raises `StoreError` when the copy is refused."""
    locks, warnings = lock_ends(source, target, live=live)
    try:
        ends: list[Database] = []
        try:
            for location in (source, target):
                ends.append(open_location(location))
            src, dst = ends
            for warning in [*warnings, *check_servers(src, dst, live=live)]:
                warn(warning)
            report = copy_database(src, dst, force=force, progress=progress)
        finally:
            for db in ends:
                db.close()
    finally:
        for lock in locks:
            lock.release()
    return report, (src.name, dst.name)


def lock_ends(source: str, target: str, *, live: bool) -> tuple[list[DbLock], list[str]]:
    """Lock the SQLite ends of a copy: the locks (release them after the copy) and the
    warnings to print. Raises `StoreError` for an end in use (the source: unless ``live``)
    and for a source file that does not exist (opening it would create an empty one)."""
    locks: list[DbLock] = []
    warnings: list[str] = []
    seen: set[str] = set()
    try:
        for role, location in (("source", source), ("target", target)):
            path = sqlite_file(location)
            if path is None:
                continue
            if role == "source" and not path.is_file():
                raise StoreError(f"{location}: no such database file")
            real = path.resolve()
            if str(real) in seen:
                raise StoreError(f"{path}: cannot copy a database onto itself")
            seen.add(str(real))
            try:  # a daemon locks beside the path it was given: a link's, or the file's
                for spelling in dict.fromkeys([path.absolute(), real]):
                    locks.append(DbLock.acquire(spelling))
            except InUseError as e:
                if role == "target":
                    raise StoreError(
                        f"{path}: a running feedbot (pid {e.holder}) is using this database; "
                        "stop it before copying into it"
                    ) from None
                if not live:
                    raise StoreError(_refusal(str(path), f"feedbot (pid {e.holder})")) from None
                warnings.append(_twice(str(path), f"feedbot pid {e.holder}"))
    except BaseException:
        for lock in locks:
            lock.release()
        raise
    return locks, warnings


def check_servers(source: Database, target: Database, *, live: bool) -> list[str]:
    """The same for the PostgreSQL ends, once open: replicas hold a live leader lease."""
    warnings: list[str] = []
    holder = leader_of(target)
    if holder is not None:
        raise StoreError(
            f"{target.name}: feedbot replica {holder!r} holds the leader lease, so replicas "
            "are running on this database; stop them before copying into it"
        )
    holder = leader_of(source)
    if holder is not None:
        who = f"feedbot replica {holder!r} (the leader)"
        if not live:
            raise StoreError(_refusal(source.name, who))
        warnings.append(_twice(source.name, who))
    return warnings


def _refusal(where: str, who: str) -> str:
    return (
        f"{where}: a running {who} is using this database, and the posts it sends after the "
        "copy would go out again from the copy; stop it first, or pass --live to copy anyway"
    )


def _twice(where: str, who: str) -> str:
    return (
        f"{where} is in use by {who}: the copy is a snapshot of this moment; posts and edits "
        "it sends after that are not recorded in the copy, and a daemon started on the copy "
        "sends them again"
    )
