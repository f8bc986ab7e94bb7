"""One parsed article file as the indexer hands it to the store (`FileRecord`), whether
its values can be stored (`record_problem`), and its article row written (`upsert`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from feedbot.articles.model import Article, article_to_dict, scheduled
from feedbot.search.words import IndexRow
from feedbot.store.known import Known
from feedbot.store.schema import articles

__all__ = ["FileRecord", "record_problem", "upsert"]


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


def upsert(
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
