"""How one delivery is sent, decided at send time from its subscription — pure.

Quiet hours are decided when the post is about to go (a post retried into the quiet
window is treated like a new one): send silently, or hold it until the window ends.
A delivery to a forum topic carries ``message_thread_id``; Telegram's answers for a
deleted or closed topic end that topic's subscription only.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from telegram.error import BadRequest, TelegramError

from feedbot.articles.model import Entry
from feedbot.store.outbox import Delivery
from feedbot.telegram.schedule import (
    QuietDecision,
    ScheduleError,
    parse_quiet,
    quiet_decision,
    timezone,
)

__all__ = [
    "DigestRenderer",
    "Pieces",
    "quiet_for",
    "send_options",
    "thread_gone",
]

log = logging.getLogger("feedbot.telegram.sendplan")

DigestRenderer = Callable[[Sequence[Entry], str], Sequence[str]]  # (entries, language)
Pieces = Callable[[Delivery], Awaitable[Sequence[str] | None]]


def quiet_for(delivery: Delivery, now: datetime, default_timezone: str) -> QuietDecision:
    """Send, send silently, or hold ``delivery`` (digests are never held or silenced:
    the chat chose their time)."""
    if delivery.quiet is None or delivery.kind != "post":
        return QuietDecision()
    try:
        quiet = parse_quiet(delivery.quiet)
        zone = timezone(delivery.timezone or default_timezone)
    except ScheduleError as e:  # stored settings were validated; never stop a send for them
        log.warning("delivery %d: ignoring quiet hours: %s", delivery.id, e)
        return QuietDecision()
    return quiet_decision(quiet, delivery.quiet_action, zone, now.astimezone(UTC))


def send_options(delivery: Delivery, decision: QuietDecision) -> dict[str, Any]:
    """The extra sendMessage parameters: the topic, and whether to notify."""
    options: dict[str, Any] = {}
    if delivery.thread_id:
        options["message_thread_id"] = delivery.thread_id
    if decision.silent:
        options["disable_notification"] = True
    return options


def thread_gone(error: TelegramError, delivery: Delivery) -> bool:
    """Telegram says the delivery's forum topic was deleted or closed."""
    if not delivery.thread_id or not isinstance(error, BadRequest):
        return False
    text = str(error).lower()
    return "message thread not found" in text or "topic_closed" in text
