"""Inline mode: ``@bot words`` typed in any chat lists matching articles; choosing one
sends a compact post (headline, lead, link) into that chat, via the bot.

Up to `INLINE_MAX` results in pages of `INLINE_PAGE` (``next_offset`` is the next
position as digits); an empty query lists the newest articles. An offset that is not one
of ours, a query Telegram would not send, or one that cannot run is answered with no
results, cheaply: nothing is written to the database by a search. Answers are not posts:
they pass outside the rate limiter's send queue (`feedbot.telegram.send.limits` limits
only sends to chats) on connections the sender never fills (`RESERVED_CONNECTIONS`), so
an answer never waits behind a broadcast. A chosen result, when @BotFather's inline
feedback is on, counts one share (``feedbot_inline_shares_total``).
"""

from __future__ import annotations

import hashlib
import logging
from html import escape

from telegram import InlineQueryResultArticle, InputTextMessageContent, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from feedbot.articles.i18n import normalize_language, translator
from feedbot.articles.model import Entry
from feedbot.articles.summarize import split_sentences
from feedbot.search.query import QueryError, parse
from feedbot.telegram.chat.handlerkit import deps_of
from feedbot.telegram.render.messages import post_date

__all__ = ["INLINE_MAX", "INLINE_PAGE", "RESERVED_CONNECTIONS", "chosen_result", "inline_query"]

log = logging.getLogger(__name__)

INLINE_PAGE = 10
INLINE_MAX = 50
RESERVED_CONNECTIONS = 8  # beyond the sender's in-flight sends: answers and replies
CACHE_SECONDS = 30  # Telegram may show the same results to anyone for this long
_DESCRIPTION = 200


def result_id(article_id: str) -> str:
    """A result id of at most 64 bytes: the article id, or a hash of a longer one."""
    if len(article_id.encode()) <= 64:
        return article_id
    return "h:" + hashlib.sha256(article_id.encode()).hexdigest()[:40]


def _offset(text: str) -> int | None:
    if text == "":
        return 0
    if not text.isdigit() or len(text) > 3:
        return None
    value = int(text)
    ok = value % INLINE_PAGE == 0 and 0 < value < INLINE_MAX
    return value if ok else None


def _result(entry: Entry, url: str, language: str) -> InlineQueryResultArticle:
    article = entry.article
    headline = article.headline or article.id
    lead = article.lead_summary
    first = split_sentences(lead)[0] if lead else ""
    when = post_date(article, language)
    description = f"{when} · {first}" if first else when
    read = translator(language)("Read the article")
    text = f"<b>{escape(headline)}</b>\n"
    if lead:
        text += f"{escape(lead)}\n"
    text += f'<a href="{escape(url)}">{escape(read)}</a>'
    return InlineQueryResultArticle(
        id=result_id(article.id),
        title=headline[:256],
        description=description[:_DESCRIPTION],
        url=url,
        input_message_content=InputTextMessageContent(
            text, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(url=url)
        ),
    )


async def inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer ``@bot words``: matching articles (or the newest), ten at a time."""
    asked = update.inline_query
    if asked is None:
        return
    deps = deps_of(context)
    offset = _offset(asked.offset)
    language = normalize_language(
        asked.from_user.language_code if asked.from_user else None, deps.settings.default_language
    )
    entries: list[Entry] = []
    if offset is not None:
        try:
            query = parse(asked.query)
        except QueryError:
            query = None
        if query is not None and query.included and deps.find is not None:
            entries = list(await deps.find(query, offset, INLINE_PAGE))
        elif query is not None and not query.parts:  # nothing typed: the newest
            entries = list(await deps.store.latest_entries(offset + INLINE_PAGE))[offset:]
    links = deps.settings.links
    results = [_result(e, links(e.article.id), language) for e in entries]
    more = len(entries) == INLINE_PAGE and (offset or 0) + INLINE_PAGE < INLINE_MAX
    await asked.answer(
        results,
        next_offset=str((offset or 0) + INLINE_PAGE) if more else "",
        cache_time=CACHE_SECONDS,
    )


async def chosen_result(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A result was sent into a chat (inline feedback on): one share more."""
    deps = deps_of(context)
    if update.chosen_inline_result is not None and deps.on_share is not None:
        deps.on_share()
