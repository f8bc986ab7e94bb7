"""The static export: every document of a `Site` written to a folder for any static host.

Writes are atomic (a temp file in the same folder, then ``os.replace``), files
whose bytes are unchanged are left alone (their mtime too, so rsync and CDNs
see no change), and generated files that no longer exist in the site are
removed. Files feedbot never generates are never touched.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from feedbot.errors import FeedbotError
from feedbot.progress import bar as progress_bar
from feedbot.publish.site import Site

__all__ = ["BuildReport", "export"]

# What a build may delete: only the shapes it writes itself.
_GENERATED = {
    "articles": re.compile(r"[^/]+\.html"),
    "archive": re.compile(r"[1-9][0-9]*\.(atom|rss|json)"),
    "page": re.compile(r"[1-9][0-9]*\.html"),
    "sitemaps": re.compile(r"[1-9][0-9]*\.xml"),
}
# A language's feeds: ``it/feed.atom``, ``it/archive/1.atom`` (folders named like a language).
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_LANGUAGE_FILES = {"": re.compile(r"feed\.(atom|rss|json)"), "archive": _GENERATED["archive"]}


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What one export did."""

    written: int  # new or changed files
    unchanged: int  # files left as they were
    removed: int  # stale generated files deleted
    total_bytes: int  # size of every document of the site

    @property
    def total(self) -> int:
        """Documents in the site."""
        return self.written + self.unchanged


def _write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temp file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _unchanged(target: Path, data: bytes) -> bool:
    try:
        if target.stat().st_size != len(data):
            return False
        return target.read_bytes() == data
    except FileNotFoundError:
        return False


def _stale(out: Path, keep: set[str]) -> list[Path]:
    """Generated files under ``out`` that the site no longer has."""
    shapes = dict(_GENERATED)
    for language in out.iterdir():
        if language.is_dir() and _LANGUAGE.fullmatch(language.name):
            for sub, shape in _LANGUAGE_FILES.items():
                shapes[f"{language.name}/{sub}".rstrip("/")] = shape
    stale = []
    for folder, shape in shapes.items():
        directory = out / folder
        if not directory.is_dir():
            continue
        for child in directory.iterdir():
            rel = f"{folder}/{child.name}"
            if child.is_file() and shape.fullmatch(child.name) and rel not in keep:
                stale.append(child)
    return stale


def export(site: Site, out: Path, *, progress: bool | None = None) -> BuildReport:
    """Write every path of ``site`` under ``out``; ``progress`` None = when stderr is a terminal."""
    if progress is None:
        progress = sys.stderr.isatty()
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = list(site.paths())
        written = unchanged = total_bytes = 0
        with progress_bar("building", progress) as bar:
            task = bar.add_task("build", total=len(paths))
            for path in paths:
                resource = site.get(path)
                if resource is None:  # the source changed while we were building
                    bar.advance(task)
                    continue
                target = out / path
                total_bytes += len(resource.body)
                if _unchanged(target, resource.body):
                    unchanged += 1
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    _write_atomic(target, resource.body)
                    written += 1
                bar.advance(task)
        stale = _stale(out, set(paths))
        for old in stale:
            with suppress(FileNotFoundError):
                old.unlink()
    except OSError as e:
        where = e.filename or out
        raise FeedbotError(f"{where}: cannot write: {e.strerror}") from e
    return BuildReport(written, unchanged, len(stale), total_bytes)
