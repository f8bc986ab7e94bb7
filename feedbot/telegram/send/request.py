"""The HTTP layer under python-telegram-bot, refusing messages once this replica stops leading.

The rate limiter admits a message, then python-telegram-bot serialises it and httpx
takes a connection before a byte is written: a leader paused in between (SIGSTOP, a
long GC, a frozen VM) would, on waking, write messages it admitted under a lease that
has since passed to another replica — in the same second as the new leader's, so
Telegram answers 429. `LeaderRequest` asks ``permit`` (the `feedbot.cluster.leader.Leadership`'s
``may_act``: the lease's expiry by this process's monotonic clock, no database round
trip) as the last step before the request goes to httpx, and refuses with `NotLeading`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telegram.error import TelegramError
from telegram.request import HTTPXRequest

__all__ = ["SENDING_METHODS", "LeaderRequest", "NotLeading"]

# Requests that put a message into a chat; everything else (getUpdates, getMe,
# answerCallbackQuery, getChatMember, setMyCommands, ...) passes unthrottled
# (`feedbot.telegram.send.limits`) and is never refused here.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "deleteMessage",
    }
)


class NotLeading(TelegramError):
    """A message was refused before it was written: this replica no longer leads.
    (`feedbot.telegram.send.limits.FeedbotRateLimiter` turns it into a `FencedError`.)"""


class LeaderRequest(HTTPXRequest):
    """`HTTPXRequest` that writes a message into a chat only while ``permit()`` is true."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.permit: Callable[[], bool] = lambda: True  # one daemon on SQLite always leads

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        if url.rpartition("/")[2] in SENDING_METHODS and not self.permit():
            raise NotLeading("this replica no longer leads: message not sent")
        return await super().do_request(url, method, *args, **kwargs)
