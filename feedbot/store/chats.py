"""The chats: subscriptions, each chat's language, and the counts `/stats` shows.

`Chats` is synchronous (tools, the copy between databases, tests off the loop);
`AsyncChats` is what the bot's handlers use: the same calls, run on the database
threads so that no handler ever waits for SQLite on the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update

from feedbot.articles.model import Entry
from feedbot.store.engine import Database
from feedbot.store.schema import articles, bytewise, chats, deliveries, subscriptions
from feedbot.store.subscriptions import (
    Subscription,
    Subscriptions,
    drop_subscriptions,
    new_subscription_values,
)

if TYPE_CHECKING:
    from feedbot.store.articles import Articles

__all__ = ["AsyncChats", "Chats"]

STATUSES = ("pending", "sending", "sent", "failed")


class Chats:
    """The ``chats`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def subscribe(
        self,
        chat: str,
        *,
        kind: str,
        title: str | None,
        now: datetime | None = None,
        thread_id: int = 0,
        language: str | None = None,
    ) -> bool:
        """Subscribe a chat, or one forum topic of it (``thread_id``), in ``language``
        (the chat's stored language, when it has one, wins); True when it is new."""
        now = now or datetime.now(UTC)
        with self._db.write() as conn:
            row = conn.execute(
                select(chats.c.subscribed, chats.c.language).where(chats.c.id == chat)
            ).first()
            if row is None:
                conn.execute(
                    insert(chats).values(
                        id=chat,
                        type=kind,
                        title=title,
                        language=language,
                        subscribed=True,
                        subscribed_at=now,
                    )
                )
            else:
                values: dict[str, object] = {"type": kind, "title": title}
                if not row.subscribed:
                    values |= {"subscribed": True, "subscribed_at": now}
                if row.language is None and language is not None:
                    values["language"] = language
                conn.execute(update(chats).where(chats.c.id == chat).values(**values))
                language = row.language or language
            found = conn.execute(
                select(subscriptions.c.chat).where(
                    subscriptions.c.chat == chat, subscriptions.c.thread_id == thread_id
                )
            ).first()
            if found is not None:
                return False
            conn.execute(
                insert(subscriptions).values(
                    **new_subscription_values(chat, thread_id, language, now)
                )
            )
            return True

    def unsubscribe(self, chat: str, thread_id: int | None = 0) -> bool:
        """Unsubscribe a chat's topic (0: the whole chat; None: every topic too);
        True when something was subscribed."""
        with self._db.write() as conn:
            return bool(drop_subscriptions(conn, chat, thread_id))

    def subscribers(self) -> list[str]:
        """Ids of the subscribed chats."""
        query = (
            select(chats.c.id)
            .where(chats.c.subscribed.is_(True))
            .order_by(bytewise(chats.c.id, self._db.dialect))
        )
        with self._db.read() as conn:
            return list(conn.scalars(query))

    def chat_language(self, chat: str, thread_id: int = 0) -> str | None:
        """The language chosen for a topic's subscription, else for the chat, or None."""
        query = select(subscriptions.c.language).where(
            subscriptions.c.chat == chat, subscriptions.c.thread_id == thread_id
        )
        with self._db.read() as conn:
            return conn.scalar(query) or conn.scalar(
                select(chats.c.language).where(chats.c.id == chat)
            )

    def set_chat_language(self, chat: str, language: str, thread_id: int = 0) -> None:
        """Set the language of a chat's topic subscription and, for the whole chat (thread
        0), of the chat (the chat row is created, unsubscribed, if missing)."""
        with self._db.write() as conn:
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.chat == chat, subscriptions.c.thread_id == thread_id)
                .values(language=language, version=subscriptions.c.version + 1)
            )
            if thread_id:
                return
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

    def __init__(self, chats: Chats, articles: Articles, db: Database, subs: Subscriptions) -> None:
        self._subs = subs
        self._chats = chats
        self._articles = articles
        self._db = db

    async def subscribe(
        self,
        chat: str,
        *,
        kind: str,
        title: str | None,
        thread_id: int = 0,
        language: str | None = None,
    ) -> bool:
        return await self._db.call(
            self._chats.subscribe,
            chat,
            kind=kind,
            title=title,
            thread_id=thread_id,
            language=language,
        )

    async def unsubscribe(self, chat: str, thread_id: int | None = 0) -> bool:
        return await self._db.call(self._chats.unsubscribe, chat, thread_id)

    async def chat_language(self, chat: str, thread_id: int = 0) -> str | None:
        return await self._db.call(self._chats.chat_language, chat, thread_id)

    async def set_chat_language(self, chat: str, language: str, thread_id: int = 0) -> None:
        await self._db.call(self._chats.set_chat_language, chat, language, thread_id)

    async def stats(self) -> dict[str, int]:
        return await self._db.call(self._chats.stats)

    async def subscription(self, chat: str, thread_id: int) -> Subscription | None:
        return await self._db.call(self._subs.get, chat, thread_id)

    async def update_subscription(
        self, chat: str, thread_id: int, version: int | None, **values: Any
    ) -> Subscription | None:
        return await self._db.call(self._subs.update, chat, thread_id, version, **values)

    async def latest_entries(self, limit: int) -> list[Entry]:
        return await self._db.call(self._articles.newest, 0, limit)
