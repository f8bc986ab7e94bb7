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
    "SchemaTooNewError",
    "StoreError",
]


class FeedbotError(Exception):
    """Root of every error feedbot raises on purpose."""


class ConfigError(FeedbotError):
    """The configuration file or an environment override is wrong."""


class ArticleError(FeedbotError):
    """An article file cannot be turned into an `Article`.

    Renders as ``path:line: message`` like a compiler diagnostic. ``line`` is
    1-based; 0 means the problem concerns the whole file (size, encoding).
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


class StoreError(FeedbotError):
    """The database cannot be opened, migrated or written."""


class SchemaTooNewError(StoreError):
    """The database was written by a newer feedbot than this one."""


class FencedError(StoreError):
    """A leader-only write was refused: this replica no longer holds the leader lease
    (or holds it under an older epoch). The caller steps down to follower."""
