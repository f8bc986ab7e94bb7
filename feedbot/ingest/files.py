"""The file-reading edge: article files on disk in, `Article` values or `ArticleError`s out.

The parser (`feedbot.articles.parse.parse`) never opens a file; this module does. Only a
regular file is read, and opening one never blocks: `open_regular` opens with
``O_NONBLOCK`` (a FIFO swapped in for a file cannot hang a scan) and without
following a symbolic link unless asked to, then checks what it opened. The
indexer (`feedbot.ingest.scan`) and the CLI both open files through it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from feedbot.articles.model import Article
from feedbot.articles.names import is_article_name, name_problem
from feedbot.articles.parse import DEFAULT_MAX_BYTES, parse
from feedbot.errors import ArticleError, RefusedFileError

__all__ = [
    "SYMLINK_OFF",
    "kind_problem",
    "list_article_files",
    "load_folder",
    "open_regular",
    "read_article",
]

SYMLINK_OFF = "a symbolic link, not read (index.follow_symlinks is off)"
OUTSIDE = "the symbolic link points outside the index folder"
_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFDIR: "a directory",
}


def kind_problem(mode: int, *, follow_symlinks: bool = False) -> str | None:
    """Why a file of this ``st_mode`` is not read, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):  # only listed as a link when not followed, or when it leads nowhere
        return "a symbolic link to nothing readable" if follow_symlinks else SYMLINK_OFF
    return f"not a regular file ({_KINDS.get(stat.S_IFMT(mode), 'of an unknown kind')})"


def _inside(fd: int, path: str | Path, folder: Path) -> bool:
    """Whether the file open on ``fd`` lies inside ``folder`` (after every link is resolved)."""
    root = os.path.realpath(folder)
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")  # what was opened, not what a path says now
    except OSError:
        target = os.path.realpath(path)
    return target != root and os.path.commonpath([root, target]) == root


def open_regular(
    path: str | Path, *, follow_symlinks: bool = False, within: Path | None = None
) -> int:
    """A descriptor open for reading on ``path``, which must be a regular file.

    Never blocks, whatever the file is. A symbolic link is refused unless
    ``follow_symlinks``; then, with ``within``, its target must lie inside that folder.
    Raises `RefusedFileError` for what the file is, OSError when it cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError:
        if not follow_symlinks and os.path.islink(path):  # ELOOP: O_NOFOLLOW met a link
            raise RefusedFileError(SYMLINK_OFF) from None
        raise
    try:
        problem = kind_problem(os.fstat(fd).st_mode)
        if problem is None and follow_symlinks and within is not None:
            problem = None if _inside(fd, path, within) else OUTSIDE
        if problem is not None:
            raise RefusedFileError(problem)
    except BaseException:
        os.close(fd)
        raise
    return fd


def list_article_files(folder: Path) -> list[Path]:
    """The article files directly in ``folder``, sorted by name (dot and temp files skipped)."""
    try:
        return sorted(
            (p for p in folder.iterdir() if is_article_name(p.name) and not p.is_dir()),
            key=lambda p: p.name,
        )
    except OSError as e:
        raise ArticleError(str(folder), 0, f"cannot list the folder: {e.strerror or e}") from e


def read_article(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    follow_symlinks: bool = True,
    within: Path | None = None,
) -> Article:
    """Read and parse one article file; the name, kind and size are checked before reading.

    A file named on the command line may be a link (``follow_symlinks``); one found
    in the index folder follows the index's rules (`load_folder`)."""
    name = str(path)
    if problem := name_problem(path.name):
        raise ArticleError(name, 0, problem)
    try:
        with open(open_regular(path, follow_symlinks=follow_symlinks, within=within), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise ArticleError(
                    name, 0, f"file is {size:,} bytes, over the limit of {max_bytes:,}"
                )
            data = f.read(max_bytes + 1)  # the file may grow while we read: parse sees it
    except RefusedFileError as e:
        raise ArticleError(name, 0, str(e)) from None
    except OSError as e:
        raise ArticleError(name, 0, f"cannot read the file: {e.strerror or e}") from e
    return parse(name, data, max_bytes=max_bytes)


def load_folder(
    folder: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, follow_symlinks: bool = False
) -> tuple[list[Article], list[ArticleError]]:
    """Every article in ``folder`` (in file-name order) and an error for each bad file.

    Symbolic links are read only with ``follow_symlinks`` and only to files inside
    ``folder``, as the daemon does (``index.follow_symlinks``)."""
    articles: list[Article] = []
    errors: list[ArticleError] = []
    for path in list_article_files(folder):
        try:
            read = read_article(
                path, max_bytes=max_bytes, follow_symlinks=follow_symlinks, within=folder
            )
            articles.append(read)
        except ArticleError as e:
            errors.append(e)
    return articles, errors
