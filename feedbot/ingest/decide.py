"""Which files to read: the folder listed, and each file decided against what the store
knows — new, changed, gone, still being written, or known bad. `decide` is pure: the
files on disk (name, size, mtime) and what is known about them in, a `Plan` out."""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from feedbot.articles.names import is_article_name, name_problem
from feedbot.store.articles import Known, KnownFiles

__all__ = ["BadFile", "FileStat", "Plan", "decide", "list_files"]


class FileStat(NamedTuple):
    """One article file as listed: its name in the folder, size, mtime and type.

    A symbolic link not followed is listed with its own stat (``lstat``)."""

    name: str
    size: int
    mtime_ns: int
    mode: int = stat.S_IFREG


@dataclass(frozen=True, slots=True)
class BadFile:
    """A file that cannot be published as it is; reported once per content version.

    ``retry``: the file could not be read (not a problem of its content, name or
    type), so it is read again on the next scan even if its stat did not change."""

    size: int
    mtime_ns: int
    content_hash: str
    error: str
    retry: bool = False


@dataclass(slots=True)
class Plan:
    """What to do with each file: the intents `decide` returns."""

    new: list[FileStat] = field(default_factory=list)
    changed: list[FileStat] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # file names no longer on disk
    unchanged: int = 0
    bad: int = 0  # files still bad, stat unchanged: not read again
    unsettled: list[FileStat] = field(default_factory=list)
    recheck_in: float | None = None  # seconds until the first unsettled file settles


def decide(
    files: Sequence[FileStat],
    known: Mapping[str, Known],
    now: datetime,
    settle_ms: int,
    *,
    bad: Mapping[str, BadFile] | None = None,
    ready: Collection[str] = (),
    same: Collection[str] = (),
    writing: Collection[str] = (),
) -> Plan:
    """Intents for ``files`` against ``known`` (good articles) and ``bad`` (known bad files).

    ``same`` names files also on disk that the listing already found unchanged against
    ``known`` (`list_files` with ``known``): counted, nothing built for them.

    A file named in ``writing`` is open in its writer (the watcher saw it created or
    written and not closed since) and waits however old its mtime, with no re-check:
    its close starts the next scan. Any other file changed within ``settle_ms`` may
    still be being written and waits, unless it is named in ``ready`` (the watcher saw
    it renamed into the folder or closed by its writer, so it is complete now). A file
    that will be refused without being read never waits.
    """
    bad = bad or {}
    plan = Plan()
    now_ns = int(now.timestamp() * 1_000_000_000)
    settle_ns = settle_ms * 1_000_000
    unchanged = 0
    for f in files:
        name = f.name
        k = known.get(name)
        if k is not None and k.size == f.size and k.mtime_ns == f.mtime_ns:
            unchanged += 1  # the hot path of a re-scan: one dict lookup, two compares
            continue
        if not is_article_name(name):
            continue
        b = bad.get(f.name)
        if b is not None and not b.retry and (b.size, b.mtime_ns) == (f.size, f.mtime_ns):
            plan.bad += 1
            continue
        if writing and name in writing and _readable(f):
            plan.unsettled.append(f)  # open in its writer: its close wakes the next scan
            continue
        age = now_ns - f.mtime_ns
        if abs(age) < settle_ns and name not in ready and _readable(f):
            plan.unsettled.append(f)
            wait = (settle_ns - age) / 1e9 if age >= 0 else settle_ns / 1e9
            plan.recheck_in = wait if plan.recheck_in is None else min(plan.recheck_in, wait)
            continue
        (plan.changed if k is not None else plan.new).append(f)
    plan.unchanged = unchanged = unchanged + len(same)
    if unchanged < len(known):  # else every known name was seen
        on_disk = {f.name for f in files}.union(same)
        plan.removed = sorted(name for name in known if name not in on_disk)
    return plan


def _readable(f: FileStat) -> bool:
    """Whether a file would be read (so waits to settle) rather than refused at once."""
    return stat.S_ISREG(f.mode) and name_problem(f.name) is None


def list_files(
    folder: Path,
    *,
    follow_symlinks: bool = False,
    known: KnownFiles | None = None,
    same: list[str] | None = None,
) -> list[FileStat]:
    """The article files directly in ``folder`` with their stat (raises OSError).

    Folders are left out; links, FIFOs and devices are listed for `Indexer` to report.
    With ``known`` and ``same``, a regular file whose size and mtime match its known
    record is only named in ``same`` (the hot path of a re-scan: no object built)."""
    found = []
    st: os.stat_result | None
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if known is not None and same is not None and (k := known.stat(name)) is not None:
                try:
                    now = entry.stat(follow_symlinks=follow_symlinks)
                except OSError:
                    pass  # listed (or reported) below
                else:
                    if (now.st_size, now.st_mtime_ns) == k and stat.S_ISREG(now.st_mode):
                        same.append(name)
                        continue
            if not is_article_name(name):
                continue
            try:
                st = entry.stat(follow_symlinks=follow_symlinks)
            except FileNotFoundError:
                if not follow_symlinks:
                    continue  # gone between listing and stat
                st = None
            except OSError:  # a loop of links, say
                st = None
            if st is None:
                try:
                    st = entry.stat(follow_symlinks=False)  # the link itself, reported
                except OSError:
                    continue
            if not stat.S_ISDIR(st.st_mode):
                found.append(FileStat(name, st.st_size, st.st_mtime_ns, st.st_mode))
    return found
