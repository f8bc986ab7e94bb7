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
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from telegram import (
    BotCommand,
    Chat,
    ChatMember,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from feedbot.articles.i18n import N_
from feedbot.config import TelegramSettings
from feedbot.http.guard import SizedRoute, loads_json
from feedbot.publish.feeds import feed_url
from feedbot.runtime.logs import RedactFilter
from feedbot.telegram.chat.delivery_commands import (
    digest_command,
    filter_command,
    latest,
    quiet_command,
    style_command,
    timezone_command,
)
from feedbot.telegram.chat.handlerkit import (
    BotDeps,
    ChatStore,
    HandlerSettings,
    chat_language,
    deps_of,
    language_of,
    refuse_unless_manager,
    reply,
    say,
    thread_of,
)
from feedbot.telegram.chat.inline import RESERVED_CONNECTIONS, chosen_result, inline_query
from feedbot.telegram.chat.search import search_button, search_command
from feedbot.telegram.chat.settings_menu import settings_choice, settings_menu
from feedbot.telegram.render.messages import (
    command_descriptions,
    render_feed_links,
    render_help,
    render_stats,
    render_text,
)
from feedbot.telegram.send.limits import FeedbotRateLimiter
from feedbot.telegram.send.request import LeaderRequest

__all__ = [
    "BotDeps",
    "ChatStore",
    "HandlerSettings",
    "build_application",
    "chat_language",
    "client_options",
    "webhook_route",
]

log = logging.getLogger("feedbot.telegram.bot")

LATEST_DEFAULT, LATEST_MAX = 5, 10
GONE_STATUSES = (ChatMember.LEFT, ChatMember.BANNED)


async def _subscribe(update: Update, deps: BotDeps) -> bool:
    """Subscribe the chat, or the forum topic the command was sent in, in the chat's
    language (else the user's, if we speak it, else the default); True when new."""
    chat = update.effective_chat
    assert chat is not None
    language = await language_of(update, deps)
    return await deps.store.subscribe(
        str(chat.id),
        kind=chat.type,
        title=_chat_title(chat),
        thread_id=thread_of(update.effective_message),
        language=language,
    )


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe this chat and say how to stop (a deep-link payload is accepted)."""
    deps, chat = deps_of(context), update.effective_chat
    if chat is None or await refuse_unless_manager(update, context):
        return
    if context.args:
        log.info("/start with payload %r", context.args[0][:64])
    await _subscribe(update, deps)
    welcome = N_(
        "Welcome to {title}! This chat is now subscribed: every new article will be posted "
        "here.\nSend /stop to unsubscribe, or /help to see all commands."
    )
    await reply(update, await say(update, deps, welcome, title=deps.settings.feed.title))


async def subscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscribe this chat."""
    deps, chat = deps_of(context), update.effective_chat
    if chat is None or await refuse_unless_manager(update, context):
        return
    if await _subscribe(update, deps):
        text = N_(
            "Subscribed: every new article will be posted in this chat. Send /stop to unsubscribe."
        )
    else:
        text = N_("This chat is already subscribed. Send /stop to unsubscribe.")
    await reply(update, await say(update, deps, text))


async def unsubscribe(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unsubscribe this chat (/unsubscribe and /stop)."""
    deps, chat = deps_of(context), update.effective_chat
    if chat is None or await refuse_unless_manager(update, context):
        return
    if await deps.store.unsubscribe(str(chat.id), thread_of(update.effective_message)):
        text = N_(
            "Unsubscribed: no more articles will be posted in this chat. "
            "Send /subscribe to subscribe again."
        )
    else:
        text = N_("This chat is not subscribed. Send /subscribe to subscribe.")
    await reply(update, await say(update, deps, text))


async def feed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The feed URLs."""
    deps = deps_of(context)
    feed_settings = deps.settings.feed
    text = render_feed_links(
        await language_of(update, deps),
        title=feed_settings.title,
        atom=feed_url(feed_settings, "atom"),
        rss=feed_url(feed_settings, "rss"),
        json=feed_url(feed_settings, "json"),
    )
    await reply(update, text)


def _is_admin(update: Update, deps: BotDeps) -> bool:
    user = update.effective_user
    return user is not None and user.id in deps.settings.admins


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List every command (admin commands for admins)."""
    deps = deps_of(context)
    text = render_help(
        await language_of(update, deps),
        title=deps.settings.feed.title,
        admin=_is_admin(update, deps),
    )
    await reply(update, text)


async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Subscriber, article and delivery counts, for admins."""
    deps = deps_of(context)
    if not _is_admin(update, deps):
        await reply(
            update, await say(update, deps, N_("Only the bot's administrators can do that."))
        )
        return
    numbers = await deps.store.stats()
    text = render_stats(
        await language_of(update, deps),
        subscribers=numbers.get("subscribers", 0),
        articles=numbers.get("articles", 0),
        # Rows being sent right now are still owed: count them as pending.
        pending=numbers.get("deliveries_pending", 0) + numbers.get("deliveries_sending", 0),
        sent=numbers.get("deliveries_sent", 0),
        failed=numbers.get("deliveries_failed", 0),
    )
    await reply(update, text)


async def unknown(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Point unknown commands at /help (commands for other bots are ignored)."""
    message = update.effective_message
    if message is None or not message.text:
        return
    command = message.text.split()[0]
    if "@" in command and command.split("@", 1)[1].lower() != (context.bot.username or "").lower():
        return
    deps = deps_of(context)
    await reply(
        update, await say(update, deps, N_("Unknown command. Send /help to see the commands."))
    )


async def membership(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Unsubscribe a chat the bot was removed from; greet a group it was added to."""
    change = update.my_chat_member
    if change is None:
        return
    old, new = change.old_chat_member.status, change.new_chat_member.status
    if new in GONE_STATUSES:
        await deps_of(context).store.unsubscribe(str(change.chat.id), None)
        log.info("removed from chat %s: unsubscribed", change.chat.id)
    elif old in GONE_STATUSES and change.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        deps = deps_of(context)
        thanks = N_(
            "Thanks for adding me! An administrator of this group can send /subscribe to get "
            "every new article here."
        )
        language = chat_language(
            None, change.from_user.language_code, deps.settings.default_language
        )
        await context.bot.send_message(
            change.chat.id, render_text(language, thanks), parse_mode=ParseMode.HTML
        )


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log first, then tell the user; a handler error never stops the bot."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_message is not None:
        sorry = await say(
            update, deps_of(context), N_("Something went wrong. Please try again later.")
        )
        with contextlib.suppress(TelegramError):
            await reply(update, sorry)


def _chat_title(chat: Chat) -> str | None:
    return chat.title or chat.username or chat.full_name


# httpx logs every request URL, and a Bot API URL contains the token. The filter sits on
# httpx's own logger, so the record is redacted before any handler (ours, pytest's, a
# user's) sees it, whatever the log level.
_HTTPX_REDACT = RedactFilter(())


# python-telegram-bot logs its API URL, token included, at DEBUG when a bot is built
# ("Set Bot API URL: …/bot<token>"): its bot loggers get the same filter.
_TOKEN_LOGGERS = ("httpx", "telegram.Bot", "telegram.ext.ExtBot")


def hide_token_from_httpx(token: str) -> None:
    """Redact ``token`` from every record httpx and the Bot objects log from now on."""
    if token not in _HTTPX_REDACT.secrets:
        _HTTPX_REDACT.secrets = (*_HTTPX_REDACT.secrets, token)
    for name in _TOKEN_LOGGERS:
        logger = logging.getLogger(name)
        if _HTTPX_REDACT not in logger.filters:
            logger.addFilter(_HTTPX_REDACT)


def rates(tg: TelegramSettings) -> dict[str, Any]:
    """The limiter's rates from the settings (`FeedbotRateLimiter` and its `set_rates`)."""
    return {
        "global_rate": tg.paid_global_rate if tg.paid_broadcast else tg.global_rate,
        "chat_rate": tg.chat_rate,
        "group_per_minute": tg.group_rate_per_minute,
        "unpaid_rate": tg.global_rate if tg.paid_broadcast else None,
    }


def client_options(api_base_url: str) -> dict[str, Any]:
    """Extra httpx client options for a Bot API at ``api_base_url``: none for https (the
    real Telegram: certificates verified), and no TLS set-up for a plain ``http://`` URL
    (the playground's emulator on 127.0.0.1), where building a verifying context would
    only load the CA bundle (~3.7 MB of peak memory for two clients) that no request uses."""
    return {"verify": False} if api_base_url.lower().startswith("http://") else {}


def build_application(
    tg: TelegramSettings, deps: BotDeps
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The python-telegram-bot application with every handler registered: connected as
    ``tg`` says (token, Bot API URL, rate limits), its handlers given ``deps``."""
    assert tg.token is not None, "build_application needs a token"
    hide_token_from_httpx(tg.token.get_secret_value())
    limiter = FeedbotRateLimiter(**rates(tg))
    # The sender keeps at most this many sends in flight; the rest are for answers (inline
    # queries, button presses, commands), which must not wait behind a broadcast.
    pool = (128 if tg.paid_broadcast else 64) + RESERVED_CONNECTIONS
    options = client_options(tg.api_base_url)
    builder = (
        ApplicationBuilder()
        .token(tg.token.get_secret_value())
        .base_url(tg.api_base_url)
        .base_file_url(tg.api_base_url.replace("/bot", "/file/bot"))
        .request(
            LeaderRequest(
                connection_pool_size=pool, read_timeout=15, write_timeout=15, httpx_kwargs=options
            )
        )
        .get_updates_request(
            HTTPXRequest(connection_pool_size=2, read_timeout=40, httpx_kwargs=options)
        )
        .rate_limiter(limiter)
    )
    # No `Updater`: polling is `feedbot.telegram.polling.Poller`, webhooks our own route.
    application = builder.updater(None).build()
    application.bot_data["feedbot"] = deps
    # Order matters: the catch-all for unknown commands must come after every command.
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("subscribe", subscribe))
    application.add_handler(CommandHandler(["unsubscribe", "stop"], unsubscribe))
    application.add_handler(CommandHandler("latest", latest))
    application.add_handler(CommandHandler("search", search_command))
    application.add_handler(CommandHandler("feed", feed))
    application.add_handler(CommandHandler("settings", settings_menu))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("stats", stats))
    for name, handler in (
        ("digest", digest_command),
        ("timezone", timezone_command),
        ("quiet", quiet_command),
        ("filter", filter_command),
        ("style", style_command),
    ):
        application.add_handler(CommandHandler(name, handler))
    application.add_handler(CallbackQueryHandler(settings_choice, pattern=r"^(s|lang):"))
    application.add_handler(CallbackQueryHandler(search_button, pattern=r"^search:"))
    application.add_handler(InlineQueryHandler(inline_query))
    application.add_handler(ChosenInlineResultHandler(chosen_result))
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


# The largest update Telegram can post, with room to spare. A text (or caption) is at most 4096
# characters, and Telegram's JSON escapes every non-ASCII one as \uXXXX: 12 bytes for one
# outside the BMP, so 48 KiB. Telegram documents no cap on entities; one per character at ~64
# bytes is 256 KiB. The message it replies to carries the same again (but no reply of its own),
# a quote up to 1024 characters with its entities ~76 KiB, users and chats a few KiB: ~700 KiB.
# 2 MiB leaves room for text_link URLs and fields Telegram adds later.
WEBHOOK_MAX_BODY = 2 * 1024 * 1024


def webhook_route(
    application: Application[Any, Any, Any, Any, Any, Any],
    path: str,
    secret: str,
    *,
    forward: Callable[[Any], Awaitable[bool]] | None = None,
) -> BaseRoute:
    """A Starlette route that feeds webhook updates to the application — or, when
    ``forward(data)`` takes the update (a follower replica), to the leader. Bodies up to
    `WEBHOOK_MAX_BODY` bytes are read (413 past it)."""
    expected = secret.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get("x-telegram-bot-api-secret-token", "").encode()
        if not hmac.compare_digest(given, expected):
            return JSONResponse({"ok": False, "error": "forbidden"}, status_code=403)
        try:
            data = loads_json(await request.body())
            update = Update.de_json(data, application.bot)
        except Exception as e:
            log.warning("webhook: refused an update that is not one (%s)", type(e).__name__)
            return JSONResponse({"ok": False, "error": "bad update"}, status_code=400)
        if forward is None or not await forward(data):
            await application.update_queue.put(update)
        return JSONResponse({"ok": True})

    return SizedRoute(path, receive, methods=["POST"], max_body=WEBHOOK_MAX_BODY)
