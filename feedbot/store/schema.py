"""The tables, as SQLAlchemy Core metadata, shared by every part of the store.

Dialect-neutral on purpose (SQLite and PostgreSQL): timestamps are UTC ISO 8601
text (`UtcDateTime`, which sorts as time), lists are JSON text, booleans are
`Boolean`. ``schema_version`` holds one row: the version the migrations reached.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import sqlite

__all__ = [
    "UtcDateTime",
    "articles",
    "bytewise",
    "chats",
    "deliveries",
    "edits",
    "engine_specific",
    "inbox",
    "insert_on",
    "leases",
    "metadata",
    "schema_version",
    "search_docs",
    "state",
    "subscriptions",
]


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC ISO 8601 text (sorts as time for years 1–9999)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC).isoformat(timespec="microseconds")

    def process_result_value(self, value: str | None, dialect: Any) -> datetime | None:
        return None if value is None else datetime.fromisoformat(value)


def insert_on(conn: Connection, table: Table) -> Any:
    """An INSERT into ``table`` in the dialect of ``conn``, which knows ``ON CONFLICT``
    (`on_conflict_do_update`, `on_conflict_do_nothing`). PostgreSQL's dialect is
    imported on first use: a daemon on SQLite never loads it (about 2 MB)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


def bytewise(column: ColumnElement[str], dialect: str) -> ColumnElement[str]:
    """``column`` compared by code point, as Python compares strings: SQLite's default;
    on PostgreSQL the ``C`` collation, whatever locale the database sorts text by."""
    return column.collate("C") if dialect == "postgresql" else column


# 64-bit on PostgreSQL; on SQLite INTEGER, which is 64-bit already (and, as a primary key,
# the rowid alias that autoincrements).
BIGINT = BigInteger().with_variant(Integer, "sqlite")

metadata = MetaData()
schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
articles = Table(
    "articles",
    metadata,
    Column("id", Text, primary_key=True),
    Column("path", Text, nullable=False),  # file name inside the index folder
    Column("size", BIGINT, nullable=False),
    Column("mtime_ns", BIGINT, nullable=False),  # beyond 32 bits: nanoseconds since 1970
    Column("content_hash", Text, nullable=False),
    Column("body", Text, nullable=False),  # JSON of article_to_dict()
    Column("date", UtcDateTime, nullable=False),
    Column("seq", BIGINT, nullable=False),  # at most 18 digits (`MAX_SEQ_DIGITS`)
    Column("headline", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("first_seen", UtcDateTime, nullable=False),
    Column("published", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("removed_at", UtcDateTime),
    Column("broadcast", Boolean, nullable=False),
    # the date is in the future: stored, not published until then (`feedbot.store.schedule`)
    Column("scheduled", Boolean, nullable=False, server_default=false()),
    Index("articles_order", "removed_at", "date", "seq", "id"),
    Index("articles_scheduled", "scheduled", "date"),
    Index("articles_language", "language"),  # the corpus' languages, for search (0007)
)
chats = Table(
    "chats",
    metadata,
    Column("id", Text, primary_key=True),  # Telegram chat id as text, or @username
    Column("type", Text, nullable=False),
    Column("title", Text),
    Column("language", Text),
    Column("subscribed", Boolean, nullable=False),
    Column("subscribed_at", UtcDateTime),
    Column("unsubscribed_at", UtcDateTime),
)
deliveries = Table(
    "deliveries",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("article_id", Text, ForeignKey("articles.id"), nullable=False),
    Column("chat", Text, nullable=False),
    Column("status", Text, nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("message_ids", Text, nullable=False, default="[]"),  # JSON list of confirmed pieces
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    # The forum topic (0: the whole chat, or its General topic).
    Column("thread_id", BIGINT, nullable=False, default=0, server_default="0"),
    # "post" (one article), or "digest:<scheduled UTC time>" (articles in `payload`).
    Column("kind", Text, nullable=False, default="post", server_default="post"),
    Column("payload", Text),  # a digest: JSON list of article ids, newest first
    Column("rendered", Text),  # digest of the post the messages show (`feedbot.store.edits`)
    UniqueConstraint("article_id", "chat", "thread_id", "kind", name="deliveries_once"),
    Index("deliveries_due", "status", "next_attempt_at"),
)
# What one chat, or one forum topic of it, receives and how (see `feedbot.store.subscriptions`).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("chat", Text, primary_key=True),
    Column("thread_id", BIGINT, primary_key=True),  # 0: the whole chat / its General topic
    Column("language", Text),  # None: the default language
    Column("mode", Text, nullable=False, default="instant"),  # instant | digest
    Column("digest", Text),  # "daily HH:MM" | "weekly <day> HH:MM"
    Column("timezone", Text),  # IANA name; None: telegram.default_timezone
    Column("quiet", Text),  # "HH:MM-HH:MM" in the timezone, or None
    Column("quiet_action", Text, nullable=False, default="silent"),  # silent | hold
    Column("terms", Text, nullable=False, default="[]"),  # JSON ["+word", "-a phrase"]
    Column("has_terms", Boolean, nullable=False, default=False),
    Column("languages", Text, nullable=False, default="[]"),  # JSON ["it"]; [] = all
    Column("style", Text, nullable=False, default="full"),  # full | compact | headlines
    Column("version", Integer, nullable=False, default=1),  # bumped on every change
    Column("next_digest_at", UtcDateTime),
    Column("last_digest_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Index("subscriptions_digest_due", "mode", "next_digest_at"),
)
# At most one correction owed per delivery (see `feedbot.store.edits`).
edits = Table(
    "edits",
    metadata,
    Column("delivery_id", BIGINT, ForeignKey("deliveries.id"), primary_key=True),
    Column("action", Text, nullable=False),  # edit | mark | delete
    Column("status", Text, nullable=False),  # pending | sending | done | failed
    Column("wanted", Integer, nullable=False),  # bumped by every new request
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("error", Text),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("edits_due", "status", "next_attempt_at"),
)
state = Table(
    "state",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Leadership among replicas (see `feedbot.store.lease`). Times are seconds since the
# epoch by the DATABASE's clock, so the replicas' own clocks never matter.
leases = Table(
    "leases",
    metadata,
    Column("name", Text, primary_key=True),
    Column("holder", Text, nullable=False),  # the replica name
    Column("epoch", Integer, nullable=False),  # grows with every new holder (fencing token)
    Column("acquired_at", Float, nullable=False),
    Column("renewed_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)
# Webhook updates a follower received, for the leader to handle (see `feedbot.store.inbox`).
inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("payload", Text, nullable=False),  # the update as JSON
    Column("received_at", UtcDateTime, nullable=False),
)

# The search index's key per article (see `feedbot.store.search`): on SQLite ``docid`` is
# the rowid of the article's row in the FTS5 table ``search_fts``; on PostgreSQL the row
# also holds the ``vector`` (``tsvector``, GIN-indexed) and, since revision 0009, the
# marked words as ``fields`` (``tsvector``, not indexed). Both are made by revision 0007
# (the FTS5 table remade by 0008: contentless, its tokenizer splitting at spaces only).
search_docs = Table(
    "search_docs",
    metadata,
    Column("docid", BIGINT, primary_key=True, autoincrement=True),
    Column("article_id", Text, ForeignKey("articles.id"), nullable=False, unique=True),
)


def engine_specific(name: str | None) -> bool:
    """Whether ``name`` is a search object one engine has and the shared schema does not
    declare: FTS5's table and its shadow tables (SQLite), the ``vector`` column and its
    GIN index, and the ``fields`` column (PostgreSQL); revisions 0007 and 0009 make them."""
    return name in ("search_fts", "vector", "fields", "search_docs_vector") or (
        name or ""
    ).startswith("search_fts_")
