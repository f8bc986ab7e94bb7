"""/search in a chat: the best `PER_MESSAGE` matches, and a button for the next ones.

``/search riforma pensioni`` answers with numbered headlines (links), dates and a
one-line snippet, in the chat's language, ranked as the site ranks them
(`feedbot.store.search`). The button's data carries the query and where the next page
starts (``search:5:riforma pensioni``); a query too long for Telegram's 64-byte button
data is kept in a small table of this process and named by a token instead
(``search:5:#k3x…``) — after a restart, or on another replica, that button answers that
the search has expired. Button data is checked like any input: a forged offset or query
is clamped or refused, never trusted.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.ext import ContextTypes

from feedbot.articles.i18n import N_, translator
from feedbot.search.query import Query, QueryError, parse
from feedbot.telegram.chat.handlerkit import deps_of, language_of, reply, say
from feedbot.telegram.render.messages import render_search_results

__all__ = ["MAX_RESULTS", "PER_MESSAGE", "search_button", "search_command"]

PER_MESSAGE = 5
MAX_RESULTS = 50  # ten pages of five: past that, a better query helps more than paging
_DATA_BYTES = 64  # Telegram's limit for callback data
_PREFIX = "search:"
_KEPT = 1024  # long queries remembered for their buttons
EXPIRED = N_("This search has expired: send /search again.")
USAGE = N_("Send the words to look for: /search riforma pensioni")


class _LongQueries:
    """Queries too long for button data, by token (the newest `_KEPT`)."""

    def __init__(self) -> None:
        self._by_token: OrderedDict[str, str] = OrderedDict()

    def keep(self, text: str) -> str:
        token = secrets.token_urlsafe(8)
        self._by_token[token] = text
        while len(self._by_token) > _KEPT:
            self._by_token.popitem(last=False)
        return token

    def get(self, token: str) -> str | None:
        return self._by_token.get(token)


_LONG = _LongQueries()


def _button_data(offset: int, text: str) -> str:
    data = f"{_PREFIX}{offset}:{text}"
    if len(data.encode()) <= _DATA_BYTES and not text.startswith("#"):
        return data
    return f"{_PREFIX}{offset}:#{_LONG.keep(text)}"


async def search_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Search the articles: ``/search words``."""
    await _answer(update, context, " ".join(context.args or []), 0, edit=None)


async def search_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The "more results" button under a /search answer."""
    press = update.callback_query
    if press is None or press.data is None:
        return
    offset_text, _, rest = press.data.removeprefix(_PREFIX).partition(":")
    text = _LONG.get(rest[1:]) if rest.startswith("#") else rest
    deps = deps_of(context)
    if not offset_text.isdigit() or text is None:
        await press.answer(
            await say(update, deps, N_("This search has expired: send /search again."))
        )
        return
    await press.answer()
    offset = min(int(offset_text), MAX_RESULTS - PER_MESSAGE) // PER_MESSAGE * PER_MESSAGE
    message = press.message if isinstance(press.message, Message) else None
    await _answer(update, context, text, offset, edit=message)


async def _answer(
    update: Update,
    context: ContextTypes.DEFAULT_TYPE,
    text: str,
    offset: int,
    *,
    edit: Message | None,
) -> None:
    deps = deps_of(context)
    language = await language_of(update, deps)
    if deps.find is None:
        await reply(update, await say(update, deps, N_("Search is not available here.")))
        return
    try:
        query: Query = parse(text)
    except QueryError as e:
        await reply(update, e.message(translator(language)))
        return
    if not query.included:
        await reply(
            update,
            await say(update, deps, N_("Send the words to look for: /search riforma pensioni")),
        )
        return
    found = await deps.find(query, offset, PER_MESSAGE + 1)
    shown = render_search_results(
        found.entries[:PER_MESSAGE],
        query=query,
        typed=text,
        url_for=deps.settings.links,
        language=language,
        start=offset,
        since=found.since,
    )
    more = len(found.entries) > PER_MESSAGE and offset + PER_MESSAGE < MAX_RESULTS
    markup = None
    if more:
        label = translator(language)("More results")
        data = _button_data(offset + PER_MESSAGE, text)
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(f"{label} ›", callback_data=data)]])
    if edit is not None:
        await edit.edit_text(
            shown, parse_mode="HTML", reply_markup=markup, disable_web_page_preview=True
        )
    else:
        await reply(update, shown, reply_markup=markup)
