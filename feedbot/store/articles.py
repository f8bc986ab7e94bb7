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
from contextlib import ExitStack
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, Connection, func, select, text, update

from feedbot.articles.model import Article, Entry, article_from_dict
from feedbot.errors import UnstorableError
from feedbot.store.edits import Publishing, queue_edits
from feedbot.store.engine import Database, set_state
from feedbot.store.known import Known, KnownFiles
from feedbot.store.lease import Fence
from feedbot.store.records import FileRecord, record_problem, upsert
from feedbot.store.schema import articles, bytewise
from feedbot.store.search import backfill, merge, unindex, write_later
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
        return self.begin_changes(
            records, removals, now, broadcast=broadcast, state_updates=state_updates
        )()

    def begin_changes(
        self,
        records: Sequence[FileRecord],
        removals: Iterable[str],
        now: datetime,
        *,
        broadcast: bool,
        state_updates: Mapping[str, str] | None = None,
    ) -> Callable[[], list[str]]:
        """`apply_changes` in two steps: this one writes all but SQLite's search index
        rows and leaves the transaction open; the function it returns writes those,
        commits and returns what `apply_changes` returns. FTS5's work on the rows (most of
        the index's cost) is all SQLite's, without Python's lock, so a bulk scan has a
        thread do the second step while it reads the next files. Call the function once,
        and soon: the transaction holds the database's write lock until then. Raises as
        `apply_changes` does, from either step (nothing is stored then)."""
        token, removals = uuid.uuid4().hex, list(removals)
        later: list[str] = []
        transaction = ExitStack()
        conn = transaction.enter_context(self._fence.write(self._db))
        try:
            created = self._write_changes(
                conn, records, removals, now, broadcast, state_updates, token, later
            )
        except BaseException as e:
            _abandon(transaction, e)

        def finish() -> list[str]:
            try:
                write_later(conn, later)
            except BaseException as e:
                _abandon(transaction, e)
            transaction.close()  # commits
            if records or removals:
                self._bumped(token)
            self._unmerged += len(records)
            return created

        return finish

    def _write_changes(
        self,
        conn: Connection,
        records: Sequence[FileRecord],
        removals: list[str],
        now: datetime,
        broadcast: bool,
        state_updates: Mapping[str, str] | None,
        token: str,
        later: list[str],
    ) -> list[str]:
        created: list[str] = []
        changed: list[str] = []
        gone: list[str] = []
        if records:
            unindex(conn, [r.article.id for r in records])  # by the words stored now
            created, changed = upsert(conn, records, now, broadcast)
            made = {r.article.id: r.words for r in records if r.words is not None}
            index_search(conn, [r.article for r in records], made, later=later)
        for article_id in removals:
            if conn.execute(
                update(articles)
                .where(articles.c.id == article_id, articles.c.removed_at.is_(None))
                .values(removed_at=now)
            ).rowcount:
                gone.append(article_id)
        if gone:
            write_later(conn, later)  # an article indexed above may be one taken out here
        unindex(conn, gone)
        fresh = set(created) if broadcast else set()
        new = [r.article for r in records if r.article.id in fresh]
        queue_owed(conn, new, changed, gone, now, self._publishing)
        for key, value in (state_updates or {}).items():
            set_state(conn, key, value)
        if records or removals:
            _announce(conn, token)
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


def _abandon(transaction: ExitStack, error: BaseException) -> NoReturn:
    """Roll back ``transaction`` for ``error`` and raise it (or what the database made
    of it; a Python int the driver cannot bind, on SQLite, as `UnstorableError`)."""
    transaction.__exit__(type(error), error, error.__traceback__)  # suppresses nothing
    if isinstance(error, OverflowError):
        raise UnstorableError(str(error)) from error
    raise error


def _announce(conn: Connection, token: str) -> None:
    """Tell every replica the articles changed (at this transaction's commit)."""
    set_state(conn, VERSION_KEY, token)
    if conn.dialect.name == "postgresql":  # delivered at commit
        conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANGES_CHANNEL})
