"""What every handler module shares: the store it talks to, the chat's language and
topic, replying, and the rule that only administrators change a group's settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from telegram import ChatMember, LinkPreviewOptions, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.ext import ContextTypes

from feedbot.articles.i18n import CATALOG_LANGUAGES, N_, normalize_language
from feedbot.articles.model import Entry
from feedbot.config import FeedSettings
from feedbot.search.query import Query
from feedbot.search.reach import Found
from feedbot.store.subscriptions import Subscription
from feedbot.telegram.chat.inline_guard import InlineGuard
from feedbot.telegram.render.links import ArticleLinks
from feedbot.telegram.render.messages import render_text

__all__ = [
    "ADMIN_STATUSES",
    "BotDeps",
    "ChatStore",
    "Finder",
    "HandlerSettings",
    "chat_language",
    "deps_of",
    "language_of",
    "may_manage",
    "refuse_unless_manager",
    "reply",
    "say",
    "thread_of",
]

ADMIN_STATUSES = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


class ChatStore(Protocol):
    """What the handlers need from the store (async: the store works off the loop)."""

    async def subscribe(
        self,
        chat: str,
        *,
        kind: str,
        title: str | None,
        thread_id: int = 0,
        language: str | None = None,
    ) -> bool: ...
    async def unsubscribe(self, chat: str, thread_id: int | None = 0) -> bool: ...
    async def chat_language(self, chat: str, thread_id: int = 0) -> str | None: ...
    async def set_chat_language(self, chat: str, language: str, thread_id: int = 0) -> None: ...
    async def latest_entries(self, limit: int) -> Sequence[Entry]: ...
    async def subscription(self, chat: str, thread_id: int) -> Subscription | None: ...
    async def update_subscription(
        self, chat: str, thread_id: int, version: int | None, **values: Any
    ) -> Subscription | None: ...
    async def stats(self) -> Mapping[str, int]:
        """subscribers, articles, deliveries_pending/_sending/_sent/_failed."""
        ...


class Finder(Protocol):
    """Runs a search off the event loop: the published entries ``query`` finds, best
    first, and how far back it read (`feedbot.search.reach`)."""

    def __call__(self, query: Query, offset: int, limit: int, /) -> Awaitable[Found]: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """What the handlers read of the settings, fixed when the bot is built (none of it
    changes on SIGHUP): the publication (its title, feed and article links), who the
    bot's administrators are, and the defaults for chats that chose nothing."""

    feed: FeedSettings
    admins: tuple[int, ...] = ()  # telegram.admins
    default_language: str = "en"  # telegram.default_language
    default_timezone: str = "UTC"  # telegram.default_timezone
    instant_view_rhash: str | None = None  # telegram.instant_view_rhash

    @property
    def links(self) -> ArticleLinks:
        """The link every reply gives for an article (the page, or its Instant View)."""
        return ArticleLinks(self.feed, self.instant_view_rhash)


@dataclass(frozen=True, slots=True)
class BotDeps:
    """Everything a handler may use."""

    store: ChatStore
    settings: HandlerSettings
    clock: Callable[[], datetime] = field(default=_utc_now)
    find: Finder | None = None  # full-text search (`feedbot.store.search`), off the loop
    on_share: Callable[[], None] | None = None  # an inline result was chosen
    on_inline: Callable[[str], None] | None = None  # an inline query's outcome
    inline: InlineGuard = field(default_factory=InlineGuard)  # inline queries' budget, cache


def deps_of(context: ContextTypes.DEFAULT_TYPE) -> BotDeps:
    deps = context.bot_data["feedbot"]
    assert isinstance(deps, BotDeps)
    return deps


def chat_language(stored: str | None, user_language: str | None, default: str) -> str:
    """The chat's choice, else the user's Telegram language if we speak it, else the default."""
    if stored in CATALOG_LANGUAGES:
        return stored
    return normalize_language(user_language, default)


def thread_of(message: Message | None) -> int:
    """The forum topic a message was sent in; 0 for the General topic and other chats.

    A reply in General carries a ``message_thread_id`` too, but no ``is_topic_message``."""
    if message is None or not message.is_topic_message or not message.message_thread_id:
        return 0
    return int(message.message_thread_id)


def _message(update: Update) -> Message | None:
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        return query.message
    return update.effective_message


async def language_of(update: Update, deps: BotDeps) -> str:
    """The language to answer in: the topic's or chat's, else the user's, else the default."""
    chat, user = update.effective_chat, update.effective_user
    thread = thread_of(_message(update))
    stored = await deps.store.chat_language(str(chat.id), thread) if chat else None
    return chat_language(
        stored, user.language_code if user else None, deps.settings.default_language
    )


async def say(update: Update, deps: BotDeps, message: str, **params: object) -> str:
    return render_text(await language_of(update, deps), message, **params)


async def reply(update: Update, text: str, **kwargs: Any) -> None:
    """Answer in the chat (and topic) the update came from, as Telegram HTML."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            **kwargs,
        )


async def may_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Anyone in a private chat; only administrators in groups."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ADMIN_STATUSES


async def refuse_unless_manager(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True (after telling them) when this user may not change this chat's subscription."""
    if await may_manage(update, context):
        return False
    deps = deps_of(context)
    await reply(
        update, await say(update, deps, N_("Only the administrators of this group can do that."))
    )
    return True
