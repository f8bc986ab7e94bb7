"""Subscriptions: who receives what, how — and the fan-out of a new article to them.

One row per subscribed chat, or per forum topic of a chat (``thread_id``; 0 is the
whole chat or its General topic), with its own settings. Every change bumps the
row's ``version``: a settings menu carries the version it was drawn at, and a
button pressed on a menu drawn before a change is refused (`Subscriptions.update`).

`queue_posts` decides and writes the deliveries of new articles inside the indexer's
transaction, built for 100,000 subscriptions: the instant subscriptions without
keyword filters get theirs in one ``INSERT … SELECT`` (the language filter is SQL
too); each distinct keyword filter is read once and matched in Python against the
article's words, computed once, and the filters that take the article select their
subscriptions in the same statement; digest subscriptions get nothing here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, literal, or_, select, update

from feedbot.articles.filters import article_words, matches
from feedbot.articles.model import Article
from feedbot.store.engine import Database
from feedbot.store.schema import UtcDateTime, chats, deliveries, insert_on, subscriptions

__all__ = ["Subscription", "Subscriptions", "queue_posts", "subscription_from_row"]

SETTINGS = (
    "language",
    "mode",
    "digest",
    "timezone",
    "quiet",
    "quiet_action",
    "terms",
    "languages",
    "style",
    "next_digest_at",
    "last_digest_at",
)


@dataclass(frozen=True, slots=True)
class Subscription:
    """One subscription and its settings, as stored."""

    chat: str
    thread_id: int
    language: str | None = None
    mode: str = "instant"
    digest: str | None = None
    timezone: str | None = None
    quiet: str | None = None
    quiet_action: str = "silent"
    terms: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    style: str = "full"
    version: int = 1
    next_digest_at: datetime | None = None
    last_digest_at: datetime | None = None


def subscription_from_row(row: Any) -> Subscription:
    """The `Subscription` one row of the ``subscriptions`` table holds."""
    return Subscription(
        row.chat,
        int(row.thread_id),
        row.language,
        row.mode,
        row.digest,
        row.timezone,
        row.quiet,
        row.quiet_action,
        tuple(json.loads(row.terms)),
        tuple(json.loads(row.languages)),
        row.style,
        int(row.version),
        row.next_digest_at,
        row.last_digest_at,
    )


def new_subscription_values(
    chat: str, thread_id: int, language: str | None, now: datetime
) -> dict[str, Any]:
    """The row of a new subscription with the default settings."""
    return {
        "chat": chat,
        "thread_id": thread_id,
        "language": language,
        "mode": "instant",
        "quiet_action": "silent",
        "terms": "[]",
        "has_terms": False,
        "languages": "[]",
        "style": "full",
        "version": 1,
        "created_at": now,
    }


class Subscriptions:
    """The ``subscriptions`` table: reading and changing a subscription's settings."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, chat: str, thread_id: int = 0) -> Subscription | None:
        """The subscription of a chat (or topic), or None."""
        query = select(subscriptions).where(
            subscriptions.c.chat == chat, subscriptions.c.thread_id == thread_id
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else subscription_from_row(row)

    def of_chat(self, chat: str) -> list[Subscription]:
        """Every subscription of a chat (the whole chat and its topics), by thread."""
        query = (
            select(subscriptions)
            .where(subscriptions.c.chat == chat)
            .order_by(subscriptions.c.thread_id)
        )
        with self._db.read() as conn:
            return [subscription_from_row(r) for r in conn.execute(query)]

    def update(
        self, chat: str, thread_id: int, version: int | None, **values: Any
    ) -> Subscription | None:
        """Change settings (names in `SETTINGS`) and bump the version, if the row exists
        and, when ``version`` is given, is still at that version; the new row, or None."""
        unknown = set(values) - set(SETTINGS)
        if unknown:
            raise ValueError(f"not a subscription setting: {sorted(unknown)}")
        if "terms" in values:
            values["has_terms"] = bool(values["terms"])
            values["terms"] = json.dumps(list(values["terms"]), ensure_ascii=False)
        if "languages" in values:
            values["languages"] = json.dumps(list(values["languages"]))
        where = [subscriptions.c.chat == chat, subscriptions.c.thread_id == thread_id]
        if version is not None:
            where.append(subscriptions.c.version == version)
        query = (
            update(subscriptions)
            .where(*where)
            .values(**values, version=subscriptions.c.version + 1)
        )
        with self._db.write() as conn:
            if not conn.execute(query).rowcount:
                return None
            row = conn.execute(
                select(subscriptions).where(
                    subscriptions.c.chat == chat, subscriptions.c.thread_id == thread_id
                )
            ).first()
        return None if row is None else subscription_from_row(row)


def drop_subscriptions(conn: Connection, chat: str, thread_id: int | None = None) -> int:
    """Delete a chat's subscriptions (one topic's when ``thread_id`` is given) and keep
    ``chats.subscribed`` true only while the chat has one left; how many went."""
    query = delete(subscriptions).where(subscriptions.c.chat == chat)
    if thread_id is not None:
        query = query.where(subscriptions.c.thread_id == thread_id)
    gone = int(conn.execute(query).rowcount)
    left = conn.scalar(
        select(func.count()).select_from(subscriptions).where(subscriptions.c.chat == chat)
    )
    if not left:
        conn.execute(
            update(chats)
            .where(chats.c.id == chat, chats.c.subscribed.is_(True))
            .values(subscribed=False, unsubscribed_at=datetime.now(UTC))
        )
    return gone


IN_CHUNK = 5000  # filters in one IN (…): well under SQLite's 32,766 bound values


def _insert(conn: Connection) -> Any:
    return insert_on(conn, deliveries)


def _language_ok(language: str) -> Any:
    """SQL: the subscription takes articles in ``language`` (no list means all)."""
    return or_(
        subscriptions.c.languages == "[]",
        subscriptions.c.languages.contains(json.dumps(language)),
    )


def queue_posts(
    conn: Connection,
    new: Sequence[Article],
    channels: Sequence[str],
    now: datetime,
    *,
    due: datetime | None = None,
) -> None:
    """One pending delivery of each new article per instant subscription that takes it,
    and per channel (inside the caller's transaction; existing rows are left alone), due
    at ``due`` (else ``now``: `telegram.delay` holds posts back).

    Keyword filters are matched once per distinct filter, not per subscription: the
    filters that take the article go back into the same ``INSERT … SELECT`` as a list
    of values (in chunks, for SQLite's limit on bound values)."""
    stamp = literal(now, UtcDateTime)
    due_stamp = literal(due or now, UtcDateTime)
    columns = [
        "article_id",
        "chat",
        "thread_id",
        "kind",
        "status",
        "attempts",
        "next_attempt_at",
        "message_ids",
        "created_at",
    ]
    for article in new:
        instant = and_(subscriptions.c.mode == "instant", _language_ok(article.language))
        text = article_words(article)
        distinct = (
            select(subscriptions.c.terms).where(instant, subscriptions.c.has_terms).distinct()
        )
        taking = [t for t in conn.scalars(distinct) if matches(json.loads(t), text)]
        chunks = [taking[i : i + IN_CHUNK] for i in range(0, len(taking), IN_CHUNK)] or [[]]
        for number, chunk in enumerate(chunks):
            which: ColumnElement[bool] = subscriptions.c.terms.in_(chunk)
            if number == 0:  # the subscriptions without keywords come with the first chunk
                which = or_(subscriptions.c.has_terms.is_(False), which)
            rows = select(
                literal(article.id),
                subscriptions.c.chat,
                subscriptions.c.thread_id,
                literal("post"),
                literal("pending"),
                literal(0),
                due_stamp,
                literal("[]"),
                stamp,
            ).where(instant, which)
            conn.execute(_insert(conn).from_select(columns, rows).on_conflict_do_nothing())
        if channels:
            values = [
                {
                    "article_id": article.id,
                    "chat": chat,
                    "thread_id": 0,
                    "kind": "post",
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": due or now,
                    "message_ids": "[]",
                    "created_at": now,
                }
                for chat in dict.fromkeys(channels)
            ]
            conn.execute(_insert(conn).on_conflict_do_nothing(), values)
