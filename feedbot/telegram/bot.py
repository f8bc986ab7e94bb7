"""The chat side of the bot: command handlers and their wiring.

Every handler has one shape, ``async def name(update, context) -> None``, and
finds what it needs in ``context.bot_data["feedbot"]`` (a `BotDeps`). All wiring
is in `build_application`; `telegram.service.TelegramService` drives the application
inside the daemon's event loop (polling or webhook) together with the delivery `Sender`.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from telegram import (
    BotCommand,
    Chat,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from feedbot.article import Entry
from feedbot.config import Settings
from feedbot.feeds import feed_url
from feedbot.i18n import CATALOG_LANGUAGES, N_, language_name, normalize_language, translator
from feedbot.logs import RedactFilter
from feedbot.telegram.limits import FeedbotRateLimiter
from feedbot.telegram.messages import (
    LANGUAGE_LABELS,
    command_descriptions,
    render_feed_links,
    render_help,
    render_latest,
    render_stats,
    render_text,
)
from feedbot.telegram.request import LeaderRequest

__all__ = ["BotDeps", "ChatStore", "build_application", "chat_language", "webhook_route"]

log = logging.getLogger(__name__)

LATEST_DEFAULT, LATEST_MAX = 5, 10
ADMIN_STATUSES = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)
GONE_STATUSES = (ChatMember.LEFT, ChatMember.BANNED)


class ChatStore(Protocol):
    """What the handlers need from the store (async: the store works off the loop)."""

    async def subscribe(self, chat: str, *, kind: str, title: str | None) -> bool: ...
    async def unsubscribe(self, chat: str) -> bool: ...
    async def chat_language(self, chat: str) -> str | None: ...
    async def set_chat_language(self, chat: str, language: str) -> None: ...
    async def latest_entries(self, limit: int) -> Sequence[Entry]: ...
    async def stats(self) -> Mapping[str, int]:
        """subscribers, articles, deliveries_pending/_sending/_sent/_failed."""
        ...


@dataclass(frozen=True, slots=True)
class BotDeps:
    """Everything a handler may use."""

    store: ChatStore
    settings: Settings


def _deps(context: ContextTypes.DEFAULT_TYPE) -> BotDeps:
    deps = context.bot_data["feedbot"]
    assert isinstance(deps, BotDeps)
    return deps


def chat_language(stored: str | None, user_language: str | None, default: str) -> str:
    """The chat's choice, else the user's Telegram language if we speak it, else the default."""
    if stored in CATALOG_LANGUAGES:
        return stored
    return normalize_language(user_language, default)


async def _language(update: Update, deps: BotDeps) -> str:
    chat = update.effective_chat
    user = update.effective_user
    stored = await deps.store.chat_language(str(chat.id)) if chat else None
    return chat_language(
        stored, user.language_code if user else None, deps.settings.telegram.default_language
    )


async def _say(update: Update, deps: BotDeps, message: str, **params: object) -> str:
    return render_text(await _language(update, deps), message, **params)


async def _reply(update: Update, text: str, **kwargs: Any) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(
            text,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            **kwargs,
        )


async def _may_manage(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Anyone in a private chat; only administrators in groups."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    return member.status in ADMIN_STATUSES


async def _refuse_unless_manager(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """True (after telling them) when this user may not (un)subscribe this chat."""
    if await _may_manage(update, context):
        return False
    deps = _deps(context)
    await _reply(
        update, await _say(update, deps, N_("Only the administrators of this group can do that."))
    )
    return True


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe this chat and say how to stop (a deep-link payload is accepted)."""
    deps, chat = _deps(context), update.effective_chat
    if chat is None or await _refuse_unless_manager(update, context):
        return
    if context.args:
        log.info("/start with payload %r", context.args[0][:64])
    await deps.store.subscribe(str(chat.id), kind=chat.type, title=_chat_title(chat))
    welcome = N_(
        "Welcome to {title}! This chat is now subscribed: every new article will be posted "
        "here.\nSend /stop to unsubscribe, or /help to see all commands."
    )
    await _reply(update, await _say(update, deps, welcome, title=deps.settings.feed.title))


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe this chat."""
    deps, chat = _deps(context), update.effective_chat
    if chat is None or await _refuse_unless_manager(update, context):
        return
    if await deps.store.subscribe(str(chat.id), kind=chat.type, title=_chat_title(chat)):
        text = N_(
            "Subscribed: every new article will be posted in this chat. Send /stop to unsubscribe."
        )
    else:
        text = N_("This chat is already subscribed. Send /stop to unsubscribe.")
    await _reply(update, await _say(update, deps, text))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unsubscribe this chat (/unsubscribe and /stop)."""
    deps, chat = _deps(context), update.effective_chat
    if chat is None or await _refuse_unless_manager(update, context):
        return
    if await deps.store.unsubscribe(str(chat.id)):
        text = N_(
            "Unsubscribed: no more articles will be posted in this chat. "
            "Send /subscribe to subscribe again."
        )
    else:
        text = N_("This chat is not subscribed. Send /subscribe to subscribe.")
    await _reply(update, await _say(update, deps, text))


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The n newest headlines with links (default 5, at most 10)."""
    deps = _deps(context)
    n = LATEST_DEFAULT
    if context.args:
        try:
            n = max(1, min(LATEST_MAX, int(context.args[0])))
        except ValueError:
            usage = N_("Usage: /latest [n], where n is a number from 1 to {max}.")
            await _reply(update, await _say(update, deps, usage, max=LATEST_MAX))
            return
    entries = await deps.store.latest_entries(n)
    language = await _language(update, deps)
    text = render_latest(entries, feed=deps.settings.feed, language=language)
    await _reply(update, text)


async def feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The feed URLs."""
    deps = _deps(context)
    feed_settings = deps.settings.feed
    text = render_feed_links(
        await _language(update, deps),
        title=feed_settings.title,
        atom=feed_url(feed_settings, "atom"),
        rss=feed_url(feed_settings, "rss"),
        json=feed_url(feed_settings, "json"),
    )
    await _reply(update, text)


def _language_keyboard() -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(label, callback_data=f"lang:{code}")
        for code, label in LANGUAGE_LABELS.items()
    ]
    return InlineKeyboardMarkup([buttons])


async def settings_menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer the language choice as inline buttons."""
    deps = _deps(context)
    if await _refuse_unless_manager(update, context):
        return
    language = await _language(update, deps)
    prompt = N_("Language of this chat: {language}. Choose a language:")
    text = await _say(update, deps, prompt, language=language_name(language, language))
    await _reply(update, text, reply_markup=_language_keyboard())


async def settings_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Store the language picked with an inline button."""
    deps = _deps(context)
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or query.data is None:
        return
    language = query.data.removeprefix("lang:")
    if language not in CATALOG_LANGUAGES:
        await query.answer()
        return
    if chat.type != ChatType.PRIVATE:
        member = await context.bot.get_chat_member(chat.id, query.from_user.id)
        if member.status not in ADMIN_STATUSES:
            refusal = N_("Only the administrators of this group can do that.")
            await query.answer(translator(await _language(update, deps))(refusal))
            return
    await deps.store.set_chat_language(str(chat.id), language)
    await query.answer()
    done = render_text(
        language, N_("Language set to {language}."), language=language_name(language, language)
    )
    await query.edit_message_text(done, parse_mode=ParseMode.HTML)


def _is_admin(update: Update, deps: BotDeps) -> bool:
    user = update.effective_user
    return user is not None and user.id in deps.settings.telegram.admins


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List every command (admin commands for admins)."""
    deps = _deps(context)
    text = render_help(
        await _language(update, deps), title=deps.settings.feed.title, admin=_is_admin(update, deps)
    )
    await _reply(update, text)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscriber, article and delivery counts, for admins."""
    deps = _deps(context)
    if not _is_admin(update, deps):
        await _reply(
            update, await _say(update, deps, N_("Only the bot's administrators can do that."))
        )
        return
    numbers = await deps.store.stats()
    text = render_stats(
        await _language(update, deps),
        subscribers=numbers.get("subscribers", 0),
        articles=numbers.get("articles", 0),
        # Rows being sent right now are still owed: count them as pending.
        pending=numbers.get("deliveries_pending", 0) + numbers.get("deliveries_sending", 0),
        sent=numbers.get("deliveries_sent", 0),
        failed=numbers.get("deliveries_failed", 0),
    )
    await _reply(update, text)


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Point unknown commands at /help (commands for other bots are ignored)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0]
    if "@" in command and command.split("@", 1)[1].lower() != (context.bot.username or "").lower():
        return
    deps = _deps(context)
    await _reply(
        update, await _say(update, deps, N_("Unknown command. Send /help to see the commands."))
    )


async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unsubscribe a chat the bot was removed from; greet a group it was added to."""
    change = update.my_chat_member
    if change is None:
        return
    old, new = change.old_chat_member.status, change.new_chat_member.status
    if new in GONE_STATUSES:
        await _deps(context).store.unsubscribe(str(change.chat.id))
        log.info("removed from chat %s: unsubscribed", change.chat.id)
    elif old in GONE_STATUSES and change.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        deps = _deps(context)
        thanks = N_(
            "Thanks for adding me! An administrator of this group can send /subscribe to get "
            "every new article here."
        )
        language = chat_language(
            None, change.from_user.language_code, deps.settings.telegram.default_language
        )
        await context.bot.send_message(
            change.chat.id, render_text(language, thanks), parse_mode=ParseMode.HTML
        )


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first, then tell the user; a handler error never stops the bot."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        sorry = await _say(
            update, _deps(context), N_("Something went wrong. Please try again later.")
        )
        with contextlib.suppress(TelegramError):
            await _reply(update, sorry)


def _chat_title(chat: Chat) -> str | None:
    return chat.title or chat.username or chat.full_name


# httpx logs every request URL, and a Bot API URL contains the token. The filter sits on
# httpx's own logger, so the record is redacted before any handler (ours, pytest's, a
# user's) sees it, whatever the log level.
_HTTPX_REDACT = RedactFilter(())


def hide_token_from_httpx(token: str) -> None:
    """Redact ``token`` from every record httpx logs from now on."""
    if token not in _HTTPX_REDACT.secrets:
        _HTTPX_REDACT.secrets = (*_HTTPX_REDACT.secrets, token)
    logger = logging.getLogger("httpx")
    if _HTTPX_REDACT not in logger.filters:
        logger.addFilter(_HTTPX_REDACT)


def rates(settings: Settings) -> dict[str, Any]:
    """The limiter's rates from the settings (`FeedbotRateLimiter` and its `set_rates`)."""
    tg = settings.telegram
    return {
        "global_rate": tg.paid_global_rate if tg.paid_broadcast else tg.global_rate,
        "chat_rate": tg.chat_rate,
        "group_per_minute": tg.group_rate_per_minute,
    }


def build_application(
    settings: Settings, store: ChatStore
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The python-telegram-bot application with every handler registered."""
    tg = settings.telegram
    assert tg.token is not None, "build_application needs a token"
    hide_token_from_httpx(tg.token.get_secret_value())
    limiter = FeedbotRateLimiter(**rates(settings))
    pool = 128 if tg.paid_broadcast else 64
    builder = (
        ApplicationBuilder()
        .token(tg.token.get_secret_value())
        .base_url(tg.api_base_url)
        .base_file_url(tg.api_base_url.replace("/bot", "/file/bot"))
        .request(LeaderRequest(connection_pool_size=pool, read_timeout=15, write_timeout=15))
        .get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=40))
        .rate_limiter(limiter)
    )
    if tg.mode == "webhook":
        builder = builder.updater(None)
    application = builder.build()
    application.bot_data["feedbot"] = BotDeps(store=store, settings=settings)
    # Order matters: the catch-all for unknown commands must come after every command.
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("subscribe", subscribe))
    application.add_handler(CommandHandler(["unsubscribe", "stop"], unsubscribe))
    application.add_handler(CommandHandler("latest", latest))
    application.add_handler(CommandHandler("feed", feed))
    application.add_handler(CommandHandler("settings", settings_menu))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("stats", stats))
    application.add_handler(CallbackQueryHandler(settings_choice, pattern=r"^lang:"))
    application.add_handler(ChatMemberHandler(membership, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_handler(MessageHandler(filters.COMMAND, unknown))
    application.add_error_handler(on_error)
    return application


async def register_commands(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """setMyCommands in English (the default) and Italian."""
    for code in (None, "it"):
        pairs = command_descriptions(code or "en")
        commands = [BotCommand(name, text) for name, text in pairs if name != "stop"]
        await application.bot.set_my_commands(commands, language_code=code)


def webhook_route(
    application: Application[Any, Any, Any, Any, Any, Any],
    path: str,
    secret: str,
    *,
    forward: Callable[[Any], Awaitable[bool]] | None = None,
) -> BaseRoute:
    """A Starlette route that feeds webhook updates to the application — or, when
    ``forward(data)`` takes the update (a follower replica), to the leader."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"ok": False, "error": "forbidden"}, status_code=403)
        try:
            data = await request.json()
            update = Update.de_json(data, application.bot)
        except Exception:
            return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
        if forward is None or not await forward(data):
            await application.update_queue.put(update)
        return JSONResponse({"ok": True})

    return Route(path, receive, methods=["POST"])
