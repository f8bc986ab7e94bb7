"""Articles and sites for the site/web/build/pages tests, built without the parser."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from feedbot.articles.model import (
    Article,
    ArticleDate,
    Block,
    BlockKind,
    DatePrecision,
    Entry,
    Section,
)
from feedbot.config import Settings
from feedbot.publish.site import MemorySource, Site

START = datetime(2022, 1, 1, tzinfo=UTC)


def article(i: int, *, headline: str | None = None, language: str = "it") -> Article:
    """Article number ``i``: one day after article ``i - 1``, a lead and one headed section."""
    lead = Section(
        None,
        (Block(BlockKind.PARAGRAPH, f"Lead paragraph of article {i}.", 3),),
        f"Summary of article {i}.",
    )
    body = Section(
        "A heading",
        (
            Block(BlockKind.QUOTE_INTRO, "Someone said:", 5),
            Block(BlockKind.QUOTE, '"Something & more."', 7),
            Block(BlockKind.CAPTION, "A photo. Screengrab by AFP video", 9),
        ),
        "Section summary.",
    )
    return Article(
        id=f"{i:03d}_{i:016x}",
        seq=i,
        date=ArticleDate(START + timedelta(days=i), DatePrecision.DAY),
        headline=headline if headline is not None else f"Headline {i}",
        language=language,
        sections=(lead, body),
    )


def entries(n: int) -> list[Entry]:
    return [Entry.of(article(i)) for i in range(n)]


def site(n: int = 3, settings: Settings | None = None) -> Site:
    return Site(MemorySource(entries(n)), (settings or Settings()).feed)


class CountingSource(MemorySource):
    """A MemorySource whose entries can be replaced, counting reads."""

    def __init__(self, items: Sequence[Entry]) -> None:
        super().__init__(items)
        self.reads = 0

    def replace_all(self, items: Sequence[Entry]) -> None:
        self.__init__(items)  # type: ignore[misc]

    def newest(self, offset: int, limit: int, language: str | None = None) -> Sequence[Entry]:
        self.reads += 1
        return super().newest(offset, limit, language)
