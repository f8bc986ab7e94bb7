"""Test-only ways into the store: whole rows for assertions, one-article writes, and
waiting for the database from async tests (whose loop thread may not touch it)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import Connection, create_engine, select, text

from feedbot.articles.model import Article
from feedbot.store import FileRecord, Publishing, Store, migrate
from feedbot.store.schema import articles, deliveries, metadata

__all__ = ["add", "article_row", "at_revision", "deliveries_for", "off_loop", "remove"]

P = ParamSpec("P")
T = TypeVar("T")


def add(
    store: Store,
    article: Article,
    now: datetime,
    *,
    broadcast: bool = True,
    channels: Sequence[str] = (),
    content_hash: str | None = None,
) -> bool:
    """Store one article as if read from ``<id>.txt``; True when it was new."""
    digest = content_hash or hashlib.sha256(repr(article).encode()).hexdigest()
    record = FileRecord(article, f"{article.id}.txt", 1, 1, digest)
    with _policy(store, Publishing(channels=tuple(channels))):
        new = store.articles.apply_changes([record], (), now, broadcast=broadcast)
    return bool(new)


def remove(store: Store, article_id: str, now: datetime) -> None:
    """Mark one article removed."""
    with _policy(store, Publishing()):
        store.articles.apply_changes([], [article_id], now, broadcast=False)


@contextmanager
def _policy(store: Store, publishing: Publishing) -> Iterator[None]:
    """Write under ``publishing`` (the default controls, these channels), then put back
    the policy the store had."""
    before = store.articles.publishing
    store.articles.publish_with(publishing)
    try:
        yield
    finally:
        store.articles.publish_with(before)


def article_row(store: Store, article_id: str) -> dict[str, Any] | None:
    """Every column of one article row (removed or not)."""
    with store.db.read() as conn:
        row = conn.execute(select(articles).where(articles.c.id == article_id)).first()
    return None if row is None else dict(row._mapping)


def deliveries_for(store: Store, article_id: str) -> list[dict[str, Any]]:
    """Every delivery row of one article, by chat."""
    query = select(deliveries).where(deliveries.c.article_id == article_id)
    with store.db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(deliveries.c.chat))]


async def off_loop(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Call ``fn`` (which reads or writes the database) on a worker thread."""
    return await asyncio.to_thread(fn, *args, **kwargs)


@contextmanager
def at_revision(url: str, revision: str) -> Iterator[Connection]:
    """A database at ``url`` whose schema stops at ``revision`` (``"0003"``), as an older
    feedbot left it: yields the connection, inside one transaction, to fill it."""
    engine = create_engine(url)
    script = migrate._script()
    try:
        with engine.begin() as conn:
            with EnvironmentContext(
                Config(),
                script,
                fn=lambda rev, _: script._upgrade_revs(revision, rev),
                destination_rev=revision,
            ) as env:
                env.configure(connection=conn, target_metadata=metadata)
                env.run_migrations()
            conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)"))
            conn.execute(text("DELETE FROM schema_version"))
            conn.execute(text("INSERT INTO schema_version VALUES (:v)"), {"v": int(revision)})
            yield conn
    finally:
        engine.dispose()
