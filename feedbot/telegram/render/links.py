"""Where the bot sends a reader of an article — pure, and the one place that says so.

Every article link the bot puts into Telegram (the posts in every style, their "Read the
article" button and link preview, digests, `/latest`, `/search` and inline results) is
`ArticleLinks` called with the article's id: the article's canonical page, or, with
``telegram.instant_view_rhash`` set, that page through Telegram's Instant View
(``https://t.me/iv?url=<the page, percent-encoded>&rhash=<the template's hash>``), so the
article opens inside Telegram with the publisher's template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import quote

from feedbot.config import FeedSettings
from feedbot.publish.urls import article_url

__all__ = ["INSTANT_VIEW", "ArticleLinks"]

INSTANT_VIEW: Final = "https://t.me/iv"


@dataclass(frozen=True, slots=True)
class ArticleLinks:
    """The link to an article in the bot's messages: ``links(article_id)``."""

    feed: FeedSettings
    instant_view_rhash: str | None = None  # telegram.instant_view_rhash, checked at load

    def __call__(self, article_id: str) -> str:
        page = article_url(self.feed, article_id)
        if not self.instant_view_rhash:
            return page
        return f"{INSTANT_VIEW}?url={quote(page, safe='')}&rhash={self.instant_view_rhash}"
