"""Post styles and digests, as Telegram HTML — pure.

Every post goes through `render_styled(entry, url, language, style)`: ``full`` is
`feedbot.telegram.render.messages.render_post` unchanged; ``compact`` is the headline, the
date, the lead summary and, inside one expandable blockquote, each section's heading
and summary; ``headlines`` is the headline as a link. A digest lists articles newest
first: the headline as a link, the date and the first sentence of the lead summary,
split between articles when it does not fit one message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from feedbot.articles.i18n import translator
from feedbot.articles.model import Article, Entry
from feedbot.articles.summarize import split_sentences
from feedbot.telegram.render.messages import (
    MAX_MESSAGE,
    Style,
    escape,
    one_line,
    post_date,
    render_blocks,
    render_post,
    utf16_len,
)
from feedbot.telegram.render.parse_html import parse_telegram_html

__all__ = ["STYLES", "render_digest", "render_styled"]

STYLES: Final = ("full", "compact", "headlines")
_MAX_HEADLINE: Final = 1000  # characters of a headline in a headlines-style post


def _lead(article: Article) -> str:
    """The summary of the text before the first heading (else of the first section)."""
    for section in article.sections:
        if one_line(section.summary):
            return one_line(section.summary)
    return ""


def _compact(article: Article, url: str, language: str, limit: int) -> list[str] | None:
    _ = translator(language)
    head = [f"<b>{escape(one_line(article.headline))}</b>", escape(post_date(article, language))]
    first = article.sections[0] if article.sections else None
    lead = one_line(first.summary) if first is not None and first.heading is None else ""
    if lead:
        head.append(escape(lead))
    quoted: list[str] = []
    for section in article.sections:
        heading = one_line(section.heading or "")
        if not heading:
            continue
        line = f"<b>{escape(heading)}</b>"
        if one_line(section.summary):
            line += "\n" + escape(one_line(section.summary))
        quoted.append(line)
    link = f'<a href="{escape(url)}">{escape(_("Read the article"))}</a>'
    while True:
        parts = ["\n".join(head)]
        if quoted:
            parts.append("<blockquote expandable>" + "\n\n".join(quoted) + "</blockquote>")
        parts.append(link)
        text = "\n\n".join(parts)
        if _visible(text) <= limit:
            return [text]
        if not quoted:
            return None  # the head alone is too long: the full style splits it
        quoted.pop()


def _visible(html: str) -> int:
    """The length Telegram counts: UTF-16 units of the text without its tags."""
    return utf16_len(parse_telegram_html(html)[0])


def render_styled(
    entry: Entry, *, url: str, language: str, style: str, limit: int = MAX_MESSAGE
) -> list[str]:
    """The post for ``entry`` in ``style`` (an unknown style is ``full``)."""
    article = entry.article
    if style == "headlines":
        headline = one_line(article.headline)[:_MAX_HEADLINE]
        return [f'<a href="{escape(url)}">{escape(headline)}</a>']
    if style == "compact":
        compact = _compact(article, url, language, limit)
        if compact is not None:
            return compact
    return render_post(entry, url=url, language=language, limit=limit)


def render_digest(
    entries: Sequence[Entry],
    *,
    url_for: Callable[[str], str],
    language: str,
    limit: int = MAX_MESSAGE,
) -> list[str]:
    """A digest of ``entries`` (shown newest first), one message or more."""
    _ = translator(language)
    ordered = sorted(entries, key=lambda e: (e.article.date.value, e.article.seq), reverse=True)
    title = _.ngettext("Digest: {n} new article", "Digest: {n} new articles", len(ordered))
    blocks: list[list[tuple[str, Style]]] = [[(title, "b")]]
    for entry in ordered:
        article = entry.article
        sentences = split_sentences(_lead(article), article.language)
        block: list[tuple[str, Style]] = [
            (article.headline, url_for(article.id)),
            (post_date(article, language), None),
        ]
        if sentences:
            block.append((sentences[0], None))
        blocks.append(block)
    return render_blocks(blocks, limit)
