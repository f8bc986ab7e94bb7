"""The commands that set a subscription's delivery: /digest, /timezone, /quiet,
/filter, /style — and /latest, which honours the chat's filters.

Each applies to the subscription of the chat, or of the forum topic the command was
sent in; each answers with the settings now in force, in the chat's language, or
with a short explanation and an example when the value cannot be used.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from feedbot.articles.filters import article_words, matches
from feedbot.articles.i18n import N_
from feedbot.articles.model import Article
from feedbot.store.subscriptions import Subscription
from feedbot.telegram.chat.handlerkit import (
    deps_of,
    language_of,
    refuse_unless_manager,
    reply,
    say,
    thread_of,
)
from feedbot.telegram.chat.settings_view import (
    CHANGES,
    Context,
    SettingError,
    render_settings,
    usage_text,
)
from feedbot.telegram.render.messages import render_latest

__all__ = [
    "digest_command",
    "filter_command",
    "latest",
    "quiet_command",
    "style_command",
    "takes",
    "timezone_command",
]

LATEST_DEFAULT, LATEST_MAX = 5, 10
LATEST_SCAN = 200  # newest articles /latest looks through for ones the filters let pass
NOT_SUBSCRIBED = N_("This chat is not subscribed. Send /subscribe to subscribe.")


def takes(sub: Subscription | None, article: Article) -> bool:
    """Whether a subscription's language and keyword filters let ``article`` through."""
    if sub is None:
        return True
    if sub.languages and article.language not in sub.languages:
        return False
    return not sub.terms or matches(sub.terms, article_words(article))


async def _change(update: Update, context: ContextTypes.DEFAULT_TYPE, setting: str) -> None:
    """Apply ``/<setting> <value>`` to this chat's (or topic's) subscription and answer."""
    deps, chat = deps_of(context), update.effective_chat
    if chat is None:
        return
    text = " ".join(context.args or [])
    thread = thread_of(update.effective_message)
    sub = await deps.store.subscription(str(chat.id), thread)
    if sub is None:
        await reply(update, await say(update, deps, NOT_SUBSCRIBED))
        return
    language = await language_of(update, deps)
    tz = deps.settings.default_timezone
    if not text:  # show what is in force, and how to change it
        try:
            CHANGES[setting]("", Context(sub, deps.clock(), tz))
        except SettingError as e:
            usage = usage_text(SettingError(e.usage), language)
            await reply(update, render_settings(sub, language, tz) + "\n\n" + usage)
        return
    if await refuse_unless_manager(update, context):
        return
    try:
        values = CHANGES[setting](text, Context(sub, deps.clock(), tz))
    except SettingError as e:
        await reply(update, usage_text(e, language))
        return
    new = await deps.store.update_subscription(str(chat.id), thread, None, **values)
    if new is None:  # unsubscribed meanwhile
        await reply(update, await say(update, deps, NOT_SUBSCRIBED))
        return
    await reply(update, render_settings(new, language, tz))


async def digest_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/digest off | daily HH:MM | weekly <day> HH:MM."""
    await _change(update, context, "digest")


async def timezone_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/timezone <IANA name>."""
    await _change(update, context, "timezone")


async def quiet_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/quiet off | HH:MM-HH:MM [silent|hold]."""
    await _change(update, context, "quiet")


async def filter_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/filter (show) | +word -word "a phrase" | clear | lang it,en | lang all."""
    await _change(update, context, "filter")


async def style_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/style full | compact | headlines."""
    await _change(update, context, "style")


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The n newest headlines with links (default 5, at most 10) the chat's filters take."""
    deps, chat = deps_of(context), update.effective_chat
    n = LATEST_DEFAULT
    if context.args:
        try:
            n = max(1, min(LATEST_MAX, int(context.args[0])))
        except ValueError:
            usage = N_("Usage: /latest [n], where n is a number from 1 to {max}.")
            await reply(update, await say(update, deps, usage, max=LATEST_MAX))
            return
    thread = thread_of(update.effective_message)
    sub = await deps.store.subscription(str(chat.id), thread) if chat else None
    filtered = sub is not None and bool(sub.terms or sub.languages)
    entries = await deps.store.latest_entries(LATEST_SCAN if filtered else n)
    chosen = [e for e in entries if takes(sub, e.article)][:n]
    language = await language_of(update, deps)
    await reply(update, render_latest(chosen, url_for=deps.settings.links, language=language))
