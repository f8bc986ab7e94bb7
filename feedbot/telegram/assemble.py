"""The telegram side of the composition root: the bot's parts, built from `Settings`.

This is the one telegram module that sees the whole settings model: it hands each
part only what it reads — the handlers a `HandlerSettings`, the post renderer its
`PostShape`, the application and the service the telegram section — and builds the
`TelegramService` from them (`build_service`). `telegram_component` is the daemon's
component, chosen by configuration.

Kept apart from `feedbot.telegram.service` so that a daemon without a token
never imports python-telegram-bot and httpx (about 15 MB of memory).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter
from starlette.routing import BaseRoute

from feedbot.config import Settings, TelegramSettings
from feedbot.errors import ConfigError
from feedbot.store import Store

if TYPE_CHECKING:
    from telegram import Bot

    from feedbot.articles.model import Entry
    from feedbot.cluster.leader import Leadership
    from feedbot.search.query import Query
    from feedbot.search.reach import Found
    from feedbot.telegram.chat.handlerkit import HandlerSettings
    from feedbot.telegram.render.send_options import PostShape
    from feedbot.telegram.service import Drains, TelegramService

__all__ = ["BotOff", "build_service", "handler_settings", "post_shape", "telegram_component"]

log = logging.getLogger("feedbot.telegram")


class BotOff:
    """Stands in for the bot when no token is set: says how to turn it on, once started."""

    @property
    def routes(self) -> list[BaseRoute]:
        return []

    async def start(self) -> None:
        log.info(
            "Telegram bot is off: set FEEDBOT_TELEGRAM__TOKEN to a token from @BotFather "
            "to turn it on"
        )

    async def lead(self, leadership: Leadership) -> None:
        return None

    async def stop_leading(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def wake(self, changed: Collection[str] = ()) -> None:
        return None

    def reconfigure(self, settings: Settings) -> None:
        return None

    def health(self) -> dict[str, Any]:
        return {"telegram": {"running": False, "reason": "no token configured"}}

    def down(self) -> str | None:
        return None


def handler_settings(settings: Settings) -> HandlerSettings:
    """What the command handlers read of ``settings``."""
    from feedbot.telegram.chat.handlerkit import HandlerSettings

    tg = settings.telegram
    return HandlerSettings(
        settings.feed,
        admins=tuple(tg.admins),
        default_language=tg.default_language,
        default_timezone=tg.default_timezone,
        instant_view_rhash=tg.instant_view_rhash,
    )


def post_shape(settings: Settings) -> PostShape:
    """The post's renderer and send options (``telegram.template``, ``button``,
    ``link_preview``, ``instant_view_rhash``), not yet checked (`PostShape.check`)."""
    from feedbot.telegram.render.send_options import PostShape

    tg = settings.telegram
    return PostShape(
        settings.feed,
        tg.template,
        button=tg.button,
        link_preview=tg.link_preview,
        instant_view_rhash=tg.instant_view_rhash,
    )


def build_service(
    settings: Settings,
    store: Store,
    *,
    on_outcome: Callable[[str], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_share: Callable[[], None] | None = None,
    on_inline: Callable[[str], None] | None = None,
) -> TelegramService:
    """The bot on ``store``, every part built from ``settings`` (a token must be set).

    A template that errs raises `ConfigError` here, before anything is sent."""
    from feedbot.telegram.chat.handlers import BotDeps, build_application
    from feedbot.telegram.polling import Poller
    from feedbot.telegram.service import TelegramService

    tg = settings.telegram
    # Replicas in webhook mode: followers hand updates to the leader through the store.
    replicas = store.dialect == "postgresql" and tg.mode == "webhook"
    if replicas and tg.webhook_secret is None:
        raise ConfigError(
            "telegram.webhook_secret must be set when replicas share a webhook: "
            "every replica checks the same secret"
        )

    async def find(query: Query, offset: int, limit: int, /) -> Found:
        return await store.call(store.search.find, query, clock(), offset=offset, limit=limit)

    deps = BotDeps(
        store.async_chats(), handler_settings(settings), clock, find, on_share, on_inline
    )
    application = build_application(tg, deps)
    secret = (
        tg.webhook_secret.get_secret_value()
        if tg.webhook_secret is not None
        else secrets.token_urlsafe(32)
    )
    shape = post_shape(settings)
    shape.check()  # a template that errs stops the daemon before anything is sent
    return TelegramService(
        application,
        store,
        tg,
        drains(application.bot, store, shape, tg, on_outcome=on_outcome, clock=clock),
        secret=secret,
        poller=Poller(application) if tg.mode != "webhook" else None,
        inbox=store.inbox if replicas else None,
    )


def drains(
    bot: Bot,
    store: Store,
    shape: PostShape,
    tg: TelegramSettings,
    *,
    on_outcome: Callable[[str], None] | None,
    clock: Callable[[], datetime],
) -> Drains:
    """The sender, the editor and the digest job, on the store's ledgers."""
    from feedbot.telegram.render.styles import render_digest
    from feedbot.telegram.send.compose import Rendering
    from feedbot.telegram.send.digests import DigestJob
    from feedbot.telegram.send.drain import DrainSettings
    from feedbot.telegram.send.editor import Editor
    from feedbot.telegram.send.sender import Sender, SendSettings
    from feedbot.telegram.service import Drains

    def digest(entries: Sequence[Entry], language: str) -> Sequence[str]:
        return render_digest(entries, url_for=shape.url, language=language)

    rendering = Rendering(shape.post, shape.options, digest)
    sending = SendSettings(
        default_language=tg.default_language,
        max_attempts=tg.max_attempts,
        max_in_flight=128 if tg.paid_broadcast else 64,
        paid_broadcast=tg.paid_broadcast,
        default_timezone=tg.default_timezone,
    )
    editing = DrainSettings(default_language=tg.default_language, max_attempts=tg.max_attempts)
    sender = Sender(
        bot, store.outbox, store, rendering, sending, clock=clock, on_outcome=on_outcome
    )
    editor = Editor(bot, store.edits, store, rendering, editing, on_outcome=on_outcome)
    digests = DigestJob(
        store.digests, store, default_timezone=tg.default_timezone, wake=sender.wake, clock=clock
    )
    return Drains(sender, editor, digests)


def telegram_component(
    settings: Settings, store: Store, registry: CollectorRegistry
) -> TelegramService | BotOff:
    """The daemon's Telegram component (`BotOff` when no token is set)."""
    if settings.telegram.token is None:
        return BotOff()
    outcomes = Counter(
        "feedbot_deliveries", "Telegram deliveries by outcome.", ["outcome"], registry=registry
    )
    for outcome in ("sent", "retry", "failed", "gone", "held", "edited", "unchanged"):
        outcomes.labels(outcome)
    shares = Counter(
        "feedbot_inline_shares",
        "Articles sent into a chat from inline mode (with @BotFather's inline feedback on).",
        registry=registry,
    )
    inline = Counter(
        "feedbot_inline_queries",
        "Inline queries by outcome: searched (the database was asked), cached, empty "
        "(an offset or query that cannot run) or refused (over the user's budget).",
        ["outcome"],
        registry=registry,
    )
    for outcome in ("searched", "cached", "empty", "refused"):
        inline.labels(outcome)
    return build_service(
        settings,
        store,
        on_outcome=lambda outcome: outcomes.labels(outcome).inc(),
        on_share=shares.inc,
        on_inline=lambda outcome: inline.labels(outcome).inc(),
    )
