"""Inline mode: ``@bot words`` typed in any chat lists matching articles; choosing one
sends a compact post (headline, lead, link) into that chat, via the bot.

Up to `INLINE_MAX` results in pages of `INLINE_PAGE`; an empty query lists the newest
articles. ``next_offset`` is the next position and a tag of the query it belongs to
(``10.1a2b3c4d``), so an offset that is not one of ours — garbage, negative, past the
end, or another query's — is answered with no results without asking the database, as
is a query Telegram would not send or one that cannot run. Nothing is written to the
database by a search. A flood is refused before anything else, and the same words typed
by many people cost one search (`feedbot.telegram.chat.inline_guard`); every query counts
once in ``feedbot_inline_queries_total`` by outcome: ``searched`` (the database was
asked), ``cached``, ``empty`` or ``refused``. Answers are not posts:
they pass outside the rate limiter's send queue (`feedbot.telegram.send.limits` limits
only sends to chats) on connections the sender never fills (`RESERVED_CONNECTIONS`), so
an answer never waits behind a broadcast. A chosen result, when @BotFather's inline
feedback is on, counts one share (``feedbot_inline_shares_total``).
"""

from __future__ import annotations

import hashlib
import logging
from html import escape

from telegram import (
    InlineQueryResult,
    InlineQueryResultArticle,
    InputTextMessageContent,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from feedbot.articles.i18n import normalize_language, translator
from feedbot.articles.model import Entry
from feedbot.articles.summarize import split_sentences
from feedbot.search.query import Query, QueryError, parse
from feedbot.telegram.chat.handlerkit import BotDeps, deps_of
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


def _tag(query: Query) -> str:
    """A short mark of the query an offset belongs to."""
    return hashlib.blake2b(query.text.encode(), digest_size=4).hexdigest()


def _offset(text: str, query: Query) -> int | None:
    """The position ``text`` asks for, if it is one we gave for ``query``: ``""`` (the
    first page) or ``<position>.<the query's tag>``; None for anything else."""
    if text == "":
        return 0
    position, _, tag = text.partition(".")
    if not position.isdigit() or len(position) > 2 or tag != _tag(query):
        return None
    value = int(position)
    return value if value % INLINE_PAGE == 0 and 0 < value < INLINE_MAX else None


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
    guard, report = deps.inline, deps.on_inline or _ignore
    if not guard.budget.take(asked.from_user.id):
        report("refused")  # no answer: see feedbot.telegram.chat.inline_guard
        return
    language = normalize_language(asked.from_user.language_code, deps.settings.default_language)
    try:
        query: Query | None = parse(asked.query)
    except QueryError:
        query = None
    offset = None if query is None else _offset(asked.offset, query)
    if query is None or offset is None or (query.parts and not query.included):
        report("empty")  # nothing that can run: answered with nothing, cheaply
        await asked.answer([], next_offset="", cache_time=CACHE_SECONDS)
        return
    key = (query.text, offset, language)
    answer = guard.answers.get(key)
    if answer is None:
        report("searched")
        answer = await _search(deps, query, offset, language)
        guard.answers.put(key, answer)
    else:
        report("cached")
    results, next_offset = answer
    await asked.answer(results, next_offset=next_offset, cache_time=CACHE_SECONDS)


async def _search(
    deps: BotDeps, query: Query, offset: int, language: str
) -> tuple[tuple[InlineQueryResult, ...], str]:
    """One page of results for ``query`` from ``offset``, and the next page's offset."""
    if query.parts and deps.find is not None:
        entries = (await deps.find(query, offset, INLINE_PAGE)).entries
    elif query.parts:
        entries = []
    else:  # nothing typed: the newest
        entries = list(await deps.store.latest_entries(offset + INLINE_PAGE))[offset:]
    links = deps.settings.links
    results = tuple(_result(e, links(e.article.id), language) for e in entries)
    more = len(entries) == INLINE_PAGE and offset + INLINE_PAGE < INLINE_MAX
    return results, f"{offset + INLINE_PAGE}.{_tag(query)}" if more else ""


def _ignore(outcome: str) -> None:
    return None


async def chosen_result(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A result was sent into a chat (inline feedback on): one share more."""
    deps = deps_of(context)
    if update.chosen_inline_result is not None and deps.on_share is not None:
        deps.on_share()
