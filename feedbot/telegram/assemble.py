"""The daemon's Telegram component, chosen by configuration.

Kept apart from `feedbot.telegram.service` so that a daemon without a token
never imports python-telegram-bot and httpx (about 15 MB of memory).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter
from starlette.routing import BaseRoute

from feedbot.config import Settings
from feedbot.store import Store

if TYPE_CHECKING:
    from feedbot.cluster.leader import Leadership
    from feedbot.telegram.service import TelegramService

__all__ = ["BotOff", "telegram_component"]

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


def telegram_component(
    settings: Settings, store: Store, registry: CollectorRegistry
) -> TelegramService | BotOff:
    """The daemon's Telegram component (`BotOff` when no token is set)."""
    if settings.telegram.token is None:
        return BotOff()
    from feedbot.telegram.service import TelegramService

    outcomes = Counter(
        "feedbot_deliveries", "Telegram deliveries by outcome.", ["outcome"], registry=registry
    )
    for outcome in ("sent", "retry", "failed", "gone", "held", "edited", "unchanged"):
        outcomes.labels(outcome)
    return TelegramService(
        settings, store, on_outcome=lambda outcome: outcomes.labels(outcome).inc()
    )
