"""How a post is sent besides its text: the "Read the article" button and the link preview.

`PostShape` turns ``telegram.template``, ``button``, ``link_preview`` and
``instant_view_rhash`` (the article links, `feedbot.telegram.render.links`) into the
post renderer (`feedbot.telegram.render.template.PostRenderer` for the ``full`` style,
`feedbot.telegram.render.styles` for ``compact`` and ``headlines``) and the keyword arguments
each piece is sent (and edited) with: the preview on the first piece, the button on
the last.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions

from feedbot.articles.i18n import translator
from feedbot.articles.model import Entry
from feedbot.config import FeedSettings
from feedbot.telegram.render.links import ArticleLinks
from feedbot.telegram.render.styles import render_styled
from feedbot.telegram.render.template import PostRenderer
from feedbot.telegram.send.compose import NO_PREVIEW

__all__ = ["PostShape"]


class PostShape:
    """The post's renderer and send options: the feed section (title, article links) and
    ``telegram.template``, ``button`` and ``link_preview``."""

    def __init__(
        self,
        feed: FeedSettings,
        template: str | None = None,
        *,
        button: str = "off",
        link_preview: str = "off",
        instant_view_rhash: str | None = None,
    ) -> None:
        self._button = button
        self._preview = link_preview
        #: The link a post, its button, its preview and a digest give for an article.
        self.url = ArticleLinks(feed, instant_view_rhash)
        self.render = PostRenderer(feed, template, link=button != "instead", links=self.url)

    def post(self, entry: Entry, language: str, style: str = "full") -> list[str]:
        """The pieces of ``entry``'s post in a subscription's ``style``: ``full`` is the
        template's (today's post unless `telegram.template` says otherwise)."""
        if style == "full":
            return self.render(entry, language)
        url = self.url(entry.article.id)
        return render_styled(entry, url=url, language=language, style=style)

    def check(self) -> None:
        """Start-up: the template renders the sample article as valid Telegram HTML."""
        self.render.check()

    def options(self, entry: Entry, language: str, index: int, count: int) -> dict[str, Any]:
        """The send/edit arguments of piece ``index`` of ``count``."""
        url = self.url(entry.article.id)
        preview = NO_PREVIEW
        if self._preview != "off" and index == 0:
            size, where = self._preview.split("-")
            preview = LinkPreviewOptions(
                url=url,
                prefer_small_media=size == "small",
                prefer_large_media=size == "large",
                show_above_text=where == "above",
            )
        options: dict[str, Any] = {"link_preview_options": preview}
        if self._button != "off" and index == count - 1:
            label = translator(language)("Read the article")
            button = InlineKeyboardButton(label, url=url)
            options["reply_markup"] = InlineKeyboardMarkup([[button]])
        return options
