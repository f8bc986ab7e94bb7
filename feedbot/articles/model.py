"""Articles: the data every other part of feedbot consumes, and its JSON shape — pure.

Stages, by name:

- `Article`: what one article file says, parsed and summarised. Pure data; made
  by `feedbot.articles.parse.parse` from the file's name and bytes.
- `Entry`: an `Article` as published, with the times the store keeps for it.

All classes are frozen; sequences are tuples. File names and ids:
`feedbot.articles.names`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "Article",
    "ArticleDate",
    "Block",
    "BlockKind",
    "DatePrecision",
    "Entry",
    "Section",
    "article_from_dict",
    "article_to_dict",
    "parse_date",
    "scheduled",
]

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d")


class DatePrecision(enum.StrEnum):
    """How much of the date the article's date line gives."""

    MONTH = "month"  # 2022-01
    DAY = "day"  # 2022-01-14
    INSTANT = "instant"  # 2022-01-14T09:30:00+01:00


@dataclass(frozen=True, slots=True)
class ArticleDate:
    """The date line's date. ``value`` is timezone-aware UTC; a month is its first
    day at 00:00 UTC, a day is 00:00 UTC."""

    value: datetime
    precision: DatePrecision

    def isoformat(self) -> str:
        """``2022-01``, ``2022-01-14`` or a full RFC 3339 timestamp in UTC."""
        v = self.value  # not strftime: glibc drops the zero padding of years before 1000
        if self.precision is DatePrecision.MONTH:
            return f"{v.year:04d}-{v.month:02d}"
        if self.precision is DatePrecision.DAY:
            return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
        return self.value.isoformat().replace("+00:00", "Z")


class BlockKind(enum.StrEnum):
    """What a block of an article is."""

    PARAGRAPH = "paragraph"
    QUOTE_INTRO = "quote_intro"  # a paragraph ending in ':' that introduces the next block
    QUOTE = "quote"  # the block a QUOTE_INTRO introduces
    CAPTION = "caption"  # a photo/video caption ending in a credit


@dataclass(frozen=True, slots=True)
class Block:
    """One block of text (a paragraph of the file). ``line`` is 1-based."""

    kind: BlockKind
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class Section:
    """A run of blocks under an optional heading (the lead section has none)."""

    heading: str | None
    blocks: tuple[Block, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class Article:
    """One parsed, summarised article file."""

    id: str  # the file stem, e.g. "000_52a7b11c330feae9"; stable forever
    seq: int  # the leading number of the file name, orders articles within a date
    date: ArticleDate
    headline: str
    language: str  # ISO 639-1, detected from the text
    sections: tuple[Section, ...]

    @property
    def lead_summary(self) -> str:
        """Summary of the lead (first, heading-less) section, or of the first section."""
        return self.sections[0].summary if self.sections else ""


@dataclass(frozen=True, slots=True)
class Entry:
    """An article as published: the article plus the times the store keeps.

    ``published`` is the article's date; ``updated`` equals it until the content
    changes, then it is the time the change was detected.
    """

    article: Article
    updated: datetime

    @property
    def published(self) -> datetime:
        return self.article.date.value

    @classmethod
    def of(cls, article: Article) -> Entry:
        """An entry for an article never changed since it was first seen."""
        return cls(article=article, updated=article.date.value)


def scheduled(article: Article, now: datetime) -> bool:
    """Whether an article waits for its date: a full timestamp still in the future (it is
    published at that moment, not before)."""
    return article.date.precision is DatePrecision.INSTANT and article.date.value > now


def parse_date(token: str) -> ArticleDate:
    """``2022-01`` (month), ``2022-01-14`` (day) or an ISO 8601 timestamp with a zone."""
    try:
        if m := _MONTH.fullmatch(token):
            value = datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC)
            return ArticleDate(value, DatePrecision.MONTH)
        if m := _DAY.fullmatch(token):
            value = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
            return ArticleDate(value, DatePrecision.DAY)
        if _STAMP.match(token):
            stamp = datetime.fromisoformat(token)
            if stamp.tzinfo is None:
                raise ValueError("the timestamp needs a time zone (Z or ±HH:MM)")
            return ArticleDate(stamp.astimezone(UTC), DatePrecision.INSTANT)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"impossible date {token!r}: {e}") from None
    raise ValueError(f"bad date {token!r}: expected YYYY-MM, YYYY-MM-DD or an ISO 8601 timestamp")


# --- the JSON shape (`feedbot show --json`, caches) ----------------------------------------


def article_to_dict(article: Article) -> dict[str, Any]:
    """A JSON-able dict; `article_from_dict` turns it back into an equal `Article`."""
    return {
        "id": article.id,
        "seq": article.seq,
        "date": article.date.isoformat(),
        "date_precision": article.date.precision.value,
        "headline": article.headline,
        "language": article.language,
        "sections": [
            {
                "heading": s.heading,
                "summary": s.summary,
                "blocks": [
                    {"kind": b.kind.value, "text": b.text, "line": b.line} for b in s.blocks
                ],
            }
            for s in article.sections
        ],
    }


def article_from_dict(data: dict[str, Any]) -> Article:
    """The `Article` an `article_to_dict` result describes (raises ValueError/KeyError if bad)."""
    date = parse_date(data["date"])
    if date.precision.value != data.get("date_precision", date.precision.value):
        raise ValueError(f"date {data['date']!r} is not of precision {data['date_precision']!r}")
    return Article(
        id=str(data["id"]),
        seq=int(data["seq"]),
        date=date,
        headline=str(data["headline"]),
        language=str(data["language"]),
        sections=tuple(
            Section(
                heading=s["heading"],
                blocks=tuple(
                    Block(BlockKind(b["kind"]), str(b["text"]), int(b["line"])) for b in s["blocks"]
                ),
                summary=str(s["summary"]),
            )
            for s in data["sections"]
        ),
    )
