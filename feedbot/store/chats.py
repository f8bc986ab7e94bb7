"""The chats: subscriptions, each chat's language, and the counts `/stats` shows.

`Chats` is synchronous (tools, the copy between databases, tests off the loop);
`AsyncChats` is what the bot's handlers use: the same calls, run on the database
threads so that no handler ever waits for SQLite on the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update

from feedbot.article import Entry
from feedbot.store.engine import Database
from feedbot.store.schema import articles, bytewise, chats, deliveries

if TYPE_CHECKING:
    from feedbot.store.articles import Articles

__all__ = ["AsyncChats", "Chats"]

STATUSES = ("pending", "sending", "sent", "failed")


class Chats:
    """The ``chats`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def subscribe(
        self, chat: str, *, kind: str, title: str | None, now: datetime | None = None
    ) -> bool:
        """Subscribe a chat; True when it was not subscribed before."""
        now = now or datetime.now(UTC)
        with self._db.write() as conn:
            row = conn.execute(select(chats.c.subscribed).where(chats.c.id == chat)).first()
            if row is None:
                conn.execute(
                    insert(chats).values(
                        id=chat, type=kind, title=title, subscribed=True, subscribed_at=now
                    )
                )
                return True
            values: dict[str, object] = {"type": kind, "title": title}
            if not row.subscribed:
                values |= {"subscribed": True, "subscribed_at": now}
            conn.execute(update(chats).where(chats.c.id == chat).values(**values))
            return not row.subscribed

    def unsubscribe(self, chat: str, now: datetime | None = None) -> bool:
        """Unsubscribe a chat; True when it was subscribed."""
        now = now or datetime.now(UTC)
        with self._db.write() as conn:
            result = conn.execute(
                update(chats)
                .where(chats.c.id == chat, chats.c.subscribed.is_(True))
                .values(subscribed=False, unsubscribed_at=now)
            )
            return bool(result.rowcount)

    def subscribers(self) -> list[str]:
        """Ids of the subscribed chats."""
        query = (
            select(chats.c.id)
            .where(chats.c.subscribed.is_(True))
            .order_by(bytewise(chats.c.id, self._db.dialect))
        )
        with self._db.read() as conn:
            return list(conn.scalars(query))

    def chat_language(self, chat: str) -> str | None:
        """The language chosen for a chat, or None."""
        with self._db.read() as conn:
            return conn.scalar(select(chats.c.language).where(chats.c.id == chat))

    def set_chat_language(self, chat: str, language: str) -> None:
        """Set a chat's language (the chat row is created, unsubscribed, if missing)."""
        with self._db.write() as conn:
            done = conn.execute(update(chats).where(chats.c.id == chat).values(language=language))
            if not done.rowcount:
                conn.execute(
                    insert(chats).values(
                        id=chat, type="private", language=language, subscribed=False
                    )
                )

    def stats(self) -> dict[str, int]:
        """Counts for /stats: subscribers, articles, deliveries by status."""
        subscribed = select(func.count()).select_from(chats).where(chats.c.subscribed)
        live = (
            select(func.count())
            .select_from(articles)
            .where(articles.c.removed_at.is_(None), articles.c.scheduled.is_(False))
        )
        by_status = select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        with self._db.read() as conn:
            counts = {
                "subscribers": int(conn.scalar(subscribed) or 0),
                "articles": int(conn.scalar(live) or 0),
            }
            found = {str(r[0]): int(r[1]) for r in conn.execute(by_status)}
        for status in STATUSES:
            counts[f"deliveries_{status}"] = found.get(status, 0)
        return counts


class AsyncChats:
    """`Chats` for the event loop: every call runs on a database thread."""

    def __init__(self, chats: Chats, articles: Articles, db: Database) -> None:
        self._chats = chats
        self._articles = articles
        self._db = db

    async def subscribe(self, chat: str, *, kind: str, title: str | None) -> bool:
        return await self._db.call(self._chats.subscribe, chat, kind=kind, title=title)

    async def unsubscribe(self, chat: str) -> bool:
        return await self._db.call(self._chats.unsubscribe, chat)

    async def chat_language(self, chat: str) -> str | None:
        return await self._db.call(self._chats.chat_language, chat)

    async def set_chat_language(self, chat: str, language: str) -> None:
        await self._db.call(self._chats.set_chat_language, chat, language)

    async def stats(self) -> dict[str, int]:
        return await self._db.call(self._chats.stats)

    async def latest_entries(self, limit: int) -> list[Entry]:
        return await self._db.call(self._articles.newest, 0, limit)
