"""The article rows: what the indexer stores and the site and the sender read.

An article row is never deleted: a removed file sets ``removed_at`` and the
article leaves the feed and pages. `Articles.apply_changes` stores a batch of
files, removals and state in one transaction and, for articles seen for the first
time after the baseline, queues one delivery per subscribed chat and channel in that
same transaction (so an article is never known without its deliveries). What it
queues follows the publisher's controls (`Publishing`: channels, delay, corrections),
given to `Articles.publish_with` by the composition root, at start and on SIGHUP.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, select, text, update

from feedbot.articles.model import Article, Entry, article_from_dict, article_to_dict, scheduled
from feedbot.errors import UnstorableError
from feedbot.search.words import IndexRow
from feedbot.store.edits import Publishing, queue_edits
from feedbot.store.engine import Database, set_state
from feedbot.store.known import Known, KnownFiles
from feedbot.store.lease import Fence
from feedbot.store.schema import articles, bytewise
from feedbot.store.search import backfill, merge, unindex
from feedbot.store.search import index as index_search
from feedbot.store.subscriptions import queue_posts

__all__ = [
    "CHANGES_CHANNEL",
    "VERSION_KEY",
    "Articles",
    "FileRecord",
    "Known",
    "KnownFiles",
    "queue_owed",
    "record_problem",
]

VERSION_KEY = "articles_version"  # a fresh token with every committed article change
CHANGES_CHANNEL = "feedbot_articles"  # PostgreSQL NOTIFY channel, sent at that commit
# What the feeds, pages, /latest and the sender see: not removed, not waiting for its date.
PUBLISHED = (articles.c.removed_at.is_(None), articles.c.scheduled.is_(False))
MERGE_AFTER = 2_000  # indexed since the last `merge`: SQLite's is due (PostgreSQL's: after 1)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One parsed article file, as the indexer hands it to the store."""

    article: Article
    name: str  # file name inside the index folder
    size: int
    mtime_ns: int
    content_hash: str
    words: IndexRow | None = None  # its search index row, if made beforehand (`Document.row`)

    def known(self) -> Known:
        return Known(self.article.id, self.size, self.mtime_ns, self.content_hash)


# The integer columns are 64-bit on both engines (`feedbot.store.schema.BIGINT`).
_INT64 = range(-(2**63), 2**63)


def record_problem(record: FileRecord) -> str | None:
    """Why one file's values cannot be stored, or None: checked before the write, so
    one file cannot fail the write of the files stored with it."""
    if record.article.seq not in _INT64:
        return "sequence number too large to store"
    if record.mtime_ns not in _INT64:
        return (
            "modification time is out of range (after 2262 or before 1678): "
            "give the file a real time, e.g. `touch` it"
        )
    if record.size not in _INT64:
        return "file size out of range"
    return None


def _published(language: str | None) -> tuple[ColumnElement[bool], ...]:
    return PUBLISHED if language is None else (*PUBLISHED, articles.c.language == language)


def _entry(row: Any) -> Entry:
    return Entry(article=article_from_dict(json.loads(row.body)), updated=row.updated)


class Articles:
    """The ``articles`` table."""

    def __init__(self, db: Database, fence: Fence | None = None) -> None:
        self._db = db
        self._fence = fence or Fence()
        self._version = 0  # bumped after every article change this process knows of
        self._seen: str | None = None  # the database's VERSION_KEY when last looked at
        self._bump_lock = threading.Lock()
        self._publishing = Publishing()
        self._unmerged = 0  # articles indexed by this process since the last merge

    @property
    def publishing(self) -> Publishing:
        """The publisher's controls the next writes apply."""
        return self._publishing

    def publish_with(self, publishing: Publishing) -> None:
        """Apply ``publishing`` (channels, delay, corrections) to the writes from now on."""
        self._publishing = publishing

    @property
    def dialect(self) -> str:  # "sqlite" or "postgresql"
        return self._db.dialect

    @property
    def version(self) -> int:
        """A counter bumped after every article change committed here, or noticed from
        another replica (`changed_elsewhere`, `check_version`)."""
        return self._version

    def changed_elsewhere(self) -> None:
        """Another replica committed article changes (a notification said so)."""
        with self._bump_lock:
            self._version += 1

    def check_version(self) -> bool:
        """Compare the database's change token with the last one seen; bump the version
        and return True when it moved (the fallback for a missed notification)."""
        token = self._db.get_state(VERSION_KEY)
        with self._bump_lock:
            if token == self._seen:
                return False
            self._seen = token
            self._version += 1
        return True

    def known_files(self) -> KnownFiles:
        """File name → what the store knows, for every article not removed."""
        query = select(
            articles.c.path,
            articles.c.id,
            articles.c.size,
            articles.c.mtime_ns,
            articles.c.content_hash,
        ).where(articles.c.removed_at.is_(None))
        with self._db.read() as conn:
            return KnownFiles(
                (r.path, Known(r.id, r.size, r.mtime_ns, r.content_hash))
                for r in conn.execute(query)
            )

    def complete_search(self, stop: Callable[[], bool] | None = None) -> bool:
        """Index for search what the index lacks (`feedbot.store.search.backfill`, through
        the fence); False when ``stop`` ended it early."""
        done = backfill(self._db, lambda: self._fence.write(self._db), stop)
        self._unmerged += done or 0
        return done is not None

    def tidy_search(self, stop: Callable[[], bool] | None = None) -> bool:
        """Tidy the search index when due (`MERGE_AFTER`); False if ``stop`` came first."""
        due = MERGE_AFTER if self._db.dialect == "sqlite" else 1
        if self._unmerged >= due and merge(lambda: self._fence.write(self._db), stop) is not None:
            self._unmerged = 0
        return self._unmerged < due

    def get_state(self, key: str) -> str | None:
        """A value of the key-value state (the indexer keeps its baseline mark there)."""
        return self._db.get_state(key)

    def apply_changes(
        self,
        records: Sequence[FileRecord],
        removals: Iterable[str],
        now: datetime,
        *,
        broadcast: bool,
        state_updates: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Store ``records`` and mark the ids in ``removals`` removed, in one transaction.

        Articles never seen before get ``broadcast`` and, when it is true and their date
        is not in the future, one pending delivery per subscribed chat and per channel
        (`publishing`), due after its ``delay``. A posted article that changed or went
        away owes its messages a correction (``on_edit``, ``on_remove``). Returns the
        ids queued for broadcast.

        Raises `UnstorableError` when the database refuses the values written (nothing
        is stored then): the caller can store the records one by one to find which."""
        try:
            queued = self._apply_changes(records, removals, now, broadcast, state_updates)
        except OverflowError as e:  # a Python int the driver cannot bind (SQLite)
            raise UnstorableError(str(e)) from e
        self._unmerged += len(records)
        return queued

    def _apply_changes(
        self,
        records: Sequence[FileRecord],
        removals: Iterable[str],
        now: datetime,
        broadcast: bool,
        state_updates: Mapping[str, str] | None,
    ) -> list[str]:
        publishing = self._publishing
        created: list[str] = []
        changed: list[str] = []
        gone: list[str] = []
        removals = list(removals)
        token = uuid.uuid4().hex
        with self._fence.write(self._db) as conn:
            if records:
                unindex(conn, [r.article.id for r in records])  # by the words stored now
                created, changed = _upsert(conn, records, now, broadcast)
                made = {r.article.id: r.words for r in records if r.words is not None}
                index_search(conn, [r.article for r in records], made)
            for article_id in removals:
                if conn.execute(
                    update(articles)
                    .where(articles.c.id == article_id, articles.c.removed_at.is_(None))
                    .values(removed_at=now)
                ).rowcount:
                    gone.append(article_id)
            unindex(conn, gone)
            fresh = set(created) if broadcast else set()
            new = [r.article for r in records if r.article.id in fresh]
            queue_owed(conn, new, changed, gone, now, publishing)
            for key, value in (state_updates or {}).items():
                set_state(conn, key, value)
            if records or removals:
                _announce(conn, token)
        if records or removals:
            self._bumped(token)
        return created

    def _bumped(self, token: str) -> None:
        with self._bump_lock:
            self._version += 1
            self._seen = token

    def next_scheduled(self) -> datetime | None:
        """When the next article waiting for its date is due, or None."""
        query = select(func.min(articles.c.date)).where(
            articles.c.scheduled.is_(True), articles.c.removed_at.is_(None)
        )
        with self._db.read() as conn:
            due: datetime | None = conn.scalar(query)
        return due

    def release_due(self, now: datetime) -> list[str]:
        """Publish the articles whose date has come: they join the feeds and pages (every
        replica sees the change) and are queued for Telegram. Their ids."""
        due = self.next_scheduled()
        if due is None or due > now:
            return []
        publishing = self._publishing
        token = uuid.uuid4().hex
        with self._fence.write(self._db) as conn:
            rows = conn.execute(
                select(articles.c.id, articles.c.body).where(
                    articles.c.scheduled.is_(True),
                    articles.c.removed_at.is_(None),
                    articles.c.date <= now,
                )
            ).all()
            if not rows:
                return []
            ids = [r.id for r in rows]
            released = [article_from_dict(json.loads(r.body)) for r in rows]
            conn.execute(
                update(articles)
                .where(articles.c.id.in_(ids))
                .values(scheduled=False, broadcast=True)
            )
            index_search(conn, released)
            queue_owed(conn, released, (), (), now, publishing)
            _announce(conn, token)
        self._bumped(token)
        return ids

    def count(self, language: str | None = None) -> int:
        """Articles in the feed (not removed), or those in ``language``."""
        query = select(func.count()).select_from(articles).where(*_published(language))
        with self._db.read() as conn:
            return int(conn.scalar(query) or 0)

    def languages(self) -> list[str]:
        """The languages of the articles in the feed, sorted ("und" left out)."""
        query = select(articles.c.language).distinct().where(*PUBLISHED)
        with self._db.read() as conn:
            return sorted(code for code in conn.scalars(query) if code not in ("", "und"))

    def newest(self, offset: int, limit: int, language: str | None = None) -> list[Entry]:
        """Entries not removed (of ``language``), by date, seq and id, all descending."""
        query = (
            select(articles.c.body, articles.c.updated)
            .where(*_published(language))
            .order_by(
                articles.c.date.desc(),
                articles.c.seq.desc(),
                bytewise(articles.c.id, self._db.dialect).desc(),
            )
            .offset(offset)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def entry(self, article_id: str) -> Entry | None:
        """The entry of one article not removed, or None."""
        query = select(articles.c.body, articles.c.updated).where(
            articles.c.id == article_id, *PUBLISHED
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else _entry(row)


def queue_owed(
    conn: Connection,
    new: Sequence[Article],
    changed: Collection[str],
    gone: Collection[str],
    now: datetime,
    publishing: Publishing,
) -> None:
    """What published, changed and removed articles owe the chats, inside the caller's
    transaction: a post of each ``new`` article per subscription that takes it and per
    channel of ``publishing``, due after ``publishing.delay``; a correction of the
    messages of each ``changed`` or ``gone`` one, as ``publishing`` says."""
    if new:
        queue_posts(conn, new, publishing.channels, now, due=now + publishing.delay)
    if publishing.on_edit == "edit":
        queue_edits(conn, changed, "edit", now)
    if publishing.on_remove != "keep":
        queue_edits(conn, gone, publishing.on_remove, now)


def _announce(conn: Connection, token: str) -> None:
    """Tell every replica the articles changed (at this transaction's commit)."""
    set_state(conn, VERSION_KEY, token)
    if conn.dialect.name == "postgresql":  # delivered at commit
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANGES_CHANNEL})


def _row(record: FileRecord) -> dict[str, Any]:
    article = record.article
    published = article.date.value
    return {
        "path": record.name,
        "size": record.size,
        "mtime_ns": record.mtime_ns,
        "content_hash": record.content_hash,
        "body": json.dumps(article_to_dict(article), ensure_ascii=False, separators=(",", ":")),
        "date": published,
        "seq": article.seq,
        "headline": article.headline,
        "language": article.language,
        "published": published,
        "removed_at": None,
    }


def _upsert(
    conn: Connection, records: Sequence[FileRecord], now: datetime, broadcast: bool
) -> tuple[list[str], list[str]]:
    """Insert or update article rows: (the ids never seen before and published now, the
    ids seen before whose content changed or that came back after a removal)."""
    ids = [r.article.id for r in records]
    query = select(
        articles.c.id, articles.c.content_hash, articles.c.removed_at, articles.c.scheduled
    ).where(articles.c.id.in_(ids))
    known = {r.id: r for r in conn.execute(query)}
    fresh: list[dict[str, Any]] = []
    changed: list[str] = []
    seen: set[str] = set()
    for record in records:
        article = record.article
        values = _row(record)
        row = known.get(article.id)
        if row is None and article.id not in seen:
            extra = {"id": article.id, "first_seen": now, "updated": article.date.value}
            waits = scheduled(article, now)
            fresh.append(values | extra | {"broadcast": broadcast, "scheduled": waits})
            seen.add(article.id)
            continue
        edited = row is not None and row.content_hash != record.content_hash
        if edited:
            values["updated"] = max(now, article.date.value)
        if row is not None and not row.scheduled and (edited or row.removed_at is not None):
            changed.append(article.id)  # its messages show another version (or a mark)
        conn.execute(update(articles).where(articles.c.id == article.id).values(**values))
    if fresh:
        conn.execute(insert(articles), fresh)
    return [row["id"] for row in fresh if not row["scheduled"]], changed
