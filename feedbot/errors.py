"""One exception tree for feedbot, rooted in `FeedbotError`.

Foreign errors are wrapped at the boundary (`raise ... from e`); a bad article is
reported as a value carrying its path and line, never a bare crash.
"""

from __future__ import annotations

__all__ = [
    "ArticleError",
    "ConfigError",
    "FeedbotError",
    "FencedError",
    "RefusedFileError",
    "SchemaTooNewError",
    "StoreError",
    "UnstorableError",
    "shown_path",
]


def shown_path(path: str) -> str:
    """``path`` as it may appear in a message or a log line: unchanged when it is printable,
    else with backslashes, unprintable characters (a newline cannot start a fake log line) and
    bytes that are not UTF-8 (``\\xff``, from ``os.fsdecode``) escaped the way `repr` does."""
    if path.isprintable() and "\\" not in path:
        return path
    return "".join(_escape(c) for c in path)


def _escape(c: str) -> str:
    if c == "\\":
        return "\\\\"
    if c.isprintable():
        return c
    if "\udc80" <= c <= "\udcff":  # a byte os.fsdecode could not decode
        return f"\\x{ord(c) - 0xDC00:02x}"
    return repr(c)[1:-1]


class FeedbotError(Exception):
    """Root of every error feedbot raises on purpose."""


class ConfigError(FeedbotError):
    """The configuration file or an environment override is wrong."""


class ArticleError(FeedbotError):
    """An article file cannot be turned into an `Article`.

    Renders as ``path:line: message`` like a compiler diagnostic, the path escaped
    by `shown_path`. ``line`` is 1-based; 0 means the problem concerns the whole
    file (its name, size, type or encoding).
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{shown_path(path)}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class RefusedFileError(FeedbotError):
    """A file in the index that is not read for what it is (not a regular file, a symbolic
    link, a name that cannot be published); unlike a read error, retrying cannot help."""


class StoreError(FeedbotError):
    """The database cannot be opened, migrated or written."""


class UnstorableError(StoreError):
    """The database refused the values of a write (a number out of range, a constraint),
    not the connection: the same write fails again, so the caller reports what it wrote."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer feedbot than this one."""


class FencedError(StoreError):
    """A leader-only write was refused: this replica no longer holds the leader lease
    (or holds it under an older epoch). The caller steps down to follower."""
