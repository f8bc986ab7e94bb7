"""Articles: the data every other part of feedbot consumes, and the parser.

Stages, by name:

- `Article`: what one article file says, parsed and summarised. Pure data; made
  by `parse(name, data)` from the file's name and bytes (this module never opens
  a file).
- `Entry`: an `Article` as published, with the times the store keeps for it.

All classes are frozen; sequences are tuples.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "Article",
    "ArticleDate",
    "Block",
    "BlockKind",
    "DatePrecision",
    "Entry",
    "Section",
]


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
        if self.precision is DatePrecision.MONTH:
            return self.value.strftime("%Y-%m")
        if self.precision is DatePrecision.DAY:
            return self.value.strftime("%Y-%m-%d")
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
