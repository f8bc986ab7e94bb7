"""Database URLs: ``storage.url`` parsed, its password masked for logs or picked out for
the log filter, the SQLite file it names, and the libpq form the change listener needs.

SQLAlchemy's URL errors stop here: callers get a `StoreError`, or a plain value.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL, make_url
from sqlalchemy.exc import ArgumentError

from feedbot.errors import StoreError

__all__ = ["database_url", "libpq_url", "masked_url", "sqlite_file", "url_password"]

NOT_A_URL = "storage.url is not a database URL (want postgresql+psycopg://user@host/db)"


def masked_url(url: str | URL) -> str:
    """``url`` with its password hidden, for logs and errors."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparsable database URL>"
    return parsed.render_as_string(hide_password=True)


def database_url(url: str) -> URL:
    """``storage.url`` for the engine: PostgreSQL through psycopg, or SQLite; anything
    else (or not a URL) is a `StoreError`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(NOT_A_URL) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise StoreError(
        f"storage.url: {backend!r} databases are not supported (use postgresql+psycopg or sqlite)"
    )


def url_password(url: str) -> str | None:
    """The password in ``url``, for the log filter to hide (None: none, or not a URL)."""
    try:
        password = make_url(url).password
    except ArgumentError:
        return None
    return str(password) if password else None


def sqlite_file(url: str) -> Path:
    """The file a ``sqlite:///`` URL names (`StoreError` when ``url`` is not a URL)."""
    try:
        return Path(make_url(url).database or "")
    except ArgumentError:
        raise StoreError(NOT_A_URL) from None


def libpq_url(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection string (password included: never log it)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)
