"""The article rows as the site's entry source (`feedbot.publish.site.EntrySource`)."""

from __future__ import annotations

from collections.abc import Sequence

from feedbot.articles.model import Entry
from feedbot.store.articles import Articles

__all__ = ["StoreSource"]


class StoreSource:
    """The article rows as a `feedbot.publish.site.EntrySource` (count cached per version).

    Its methods read the database: call them off the event loop (the daemon's site
    renders on a database thread)."""

    def __init__(self, articles: Articles) -> None:
        self._articles = articles
        self._count: tuple[int, int] | None = None

    def version(self) -> object:
        return self._articles.version

    def count(self, language: str | None = None) -> int:
        if language is not None:
            return self._articles.count(language)
        version = self._articles.version
        if self._count is None or self._count[0] != version:
            self._count = (version, self._articles.count())
        return self._count[1]

    def languages(self) -> Sequence[str]:
        return self._articles.languages()

    def newest(self, offset: int, limit: int, language: str | None = None) -> Sequence[Entry]:
        return self._articles.newest(offset, limit, language)

    def get(self, article_id: str) -> Entry | None:
        return self._articles.entry(article_id)
