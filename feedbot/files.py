"""The file-reading edge: article files on disk in, `Article` values or `ArticleError`s out.

The parser (`feedbot.article.parse`) never opens a file; this module does, and
turns every OSError into an `ArticleError` carrying the path.
"""

from __future__ import annotations

import os
from pathlib import Path

from feedbot.article import DEFAULT_MAX_BYTES, Article, is_article_name, parse
from feedbot.errors import ArticleError

__all__ = ["list_article_files", "load_folder", "read_article"]


def list_article_files(folder: Path) -> list[Path]:
    """The article files directly in ``folder``, sorted by name (dot and temp files skipped)."""
    try:
        return sorted(
            (p for p in folder.iterdir() if is_article_name(p.name) and p.is_file()),
            key=lambda p: p.name,
        )
    except OSError as e:
        raise ArticleError(str(folder), 0, f"cannot list the folder: {e.strerror or e}") from e


def read_article(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Read and parse one article file; the size is checked before the file is read."""
    name = str(path)
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise ArticleError(
                    name, 0, f"file is {size:,} bytes, over the limit of {max_bytes:,}"
                )
            data = f.read(max_bytes + 1)  # the file may grow while we read: parse sees it
    except OSError as e:
        raise ArticleError(name, 0, f"cannot read the file: {e.strerror or e}") from e
    return parse(name, data, max_bytes=max_bytes)


def load_folder(
    folder: Path, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Article], list[ArticleError]]:
    """Every article in ``folder`` (in file-name order) and an error for each bad file."""
    articles: list[Article] = []
    errors: list[ArticleError] = []
    for path in list_article_files(folder):
        try:
            articles.append(read_article(path, max_bytes=max_bytes))
        except ArticleError as e:
            errors.append(e)
    return articles, errors
