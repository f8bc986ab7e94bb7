"""Telegram's rate limits, applied before sending rather than learned from 429s.

Three layers:

- `Window`: pure bookkeeping, "at most ``limit`` events in any ``period`` seconds";
  the clock is an argument.
- `Gate`: an asyncio FIFO in front of one `Window`, plus a pause that a
  `RetryAfter` sets for everyone. One dispatcher wakes waiters in order, so a
  thousand waiting senders cost one timer, not a thousand.
- `FeedbotRateLimiter`: python-telegram-bot's `BaseRateLimiter` seam. Every
  request that sends into a chat waits for that chat's window (1/s for private
  chats, 20/min for groups and channels), then for the global gate (30/s, or the
  paid rate). Everything the bot sends, broadcasts and command replies alike,
  passes the same gate.
"""

from __future__ import annotations

import asyncio
import logging
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

__all__ = [
    "FeedbotRateLimiter",
    "Gate",
    "RateLimits",
    "Window",
    "is_group_chat",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

Clock = Callable[[], float]

# Requests that put a message into a chat; everything else (getUpdates, getMe,
# answerCallbackQuery, getChatMember, setMyCommands, ...) passes unthrottled.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
    }
)

#: Slack added to every window: a message sent at the edge of a window can reach
#: Telegram a little later than the one before it.
DEFAULT_MARGIN = 0.025


def is_group_chat(chat: int | str) -> bool:
    """Groups, supergroups and channels have negative ids or ``@usernames``."""
    text = str(chat)
    return text.startswith(("-", "@"))


def retry_after_seconds(error: RetryAfter) -> float:
    """``error.retry_after`` in seconds, whichever type this PTB version returns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


class Window:
    """At most ``limit`` events in any ``period`` seconds (plus ``margin``)."""

    __slots__ = ("_events", "limit", "span")

    def __init__(self, limit: int, period: float, margin: float = DEFAULT_MARGIN) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs limit >= 1 and period > 0")
        self.limit = limit
        self.span = period + margin
        self._events: deque[float] = deque()

    @classmethod
    def per_second(cls, rate: float, margin: float = DEFAULT_MARGIN) -> Window:
        """A window for ``rate`` events a second (fractional rates widen the period)."""
        limit = max(1, int(rate))
        return cls(limit, limit / rate, margin)

    def free_at(self, now: float) -> float:
        """The earliest time at or after ``now`` when one more event fits."""
        events = self._events
        horizon = now - self.span
        while events and events[0] <= horizon:
            events.popleft()
        if len(events) < self.limit:
            return now
        return events[len(events) - self.limit] + self.span

    def record(self, at: float) -> None:
        """Count one event at ``at`` (callers record in time order)."""
        self._events.append(at)

    def idle(self, now: float) -> bool:
        """True when no event counts any more: the window can be dropped."""
        return not self._events or self._events[-1] <= now - self.span


class RateLimits:
    """Per-chat windows: one message a second to a private chat, N a minute to a group."""

    def __init__(self, *, chat_rate: float, group_per_minute: int) -> None:
        self._chat_rate = chat_rate
        self._group_per_minute = group_per_minute
        self._windows: dict[str, Window] = {}

    def window(self, chat: int | str) -> Window:
        key = str(chat)
        window = self._windows.get(key)
        if window is None:
            if is_group_chat(key):
                window = Window(self._group_per_minute, 60.0)
            else:
                window = Window.per_second(self._chat_rate)
            self._windows[key] = window
        return window

    def prune(self, now: float) -> None:
        """Forget chats whose windows are empty, so memory stays bounded."""
        for key in [k for k, w in self._windows.items() if w.idle(now)]:
            del self._windows[key]

    def __len__(self) -> int:
        return len(self._windows)


class Gate:
    """A FIFO queue in front of a `Window`, with a shared pause for ``RetryAfter``."""

    def __init__(self, window: Window, *, clock: Clock = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._paused_until = 0.0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def pause(self, seconds: float) -> None:
        """Hold every sender for ``seconds`` from now (Telegram's ``retry_after``)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def ready_at(self, now: float) -> float:
        return max(self._paused_until, self._window.free_at(now))

    async def acquire(self) -> None:
        """Wait for a turn; returns with the event already counted."""
        now = self._clock()
        if not self._waiters and self.ready_at(now) <= now:
            self._window.record(now)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="feedbot-rate-gate")
        await future

    async def _dispatch(self) -> None:
        while self._waiters:
            now = self._clock()
            ready = self.ready_at(now)
            if ready > now:
                await asyncio.sleep(ready - now)
                continue
            while self._waiters:
                future = self._waiters.popleft()
                if not future.done():
                    self._window.record(now)
                    future.set_result(None)
                    break
            # Let the woken sender run before the next turn is handed out.
            await asyncio.sleep(0)

    async def close(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        for future in self._waiters:
            future.cancel()
        self._waiters.clear()


class FeedbotRateLimiter(BaseRateLimiter[None]):
    """Throttle every message before it is sent; on a 429, pause everyone and retry."""

    def __init__(
        self,
        *,
        global_rate: float,
        chat_rate: float,
        group_per_minute: int,
        max_retries: int = 5,
        clock: Clock = time.monotonic,
    ) -> None:
        self._clock = clock
        self._gate = Gate(Window.per_second(global_rate), clock=clock)
        self._chats = RateLimits(chat_rate=chat_rate, group_per_minute=group_per_minute)
        self._max_retries = max_retries
        self._locks: dict[str, asyncio.Lock] = {}
        self._sent = 0

    @property
    def gate(self) -> Gate:
        return self._gate

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        await self._gate.close()

    async def _wait_for_chat(self, chat: int | str) -> None:
        window = self._chats.window(chat)
        while True:
            now = self._clock()
            ready = max(window.free_at(now), self._gate.paused_until)
            if ready <= now:
                return
            await asyncio.sleep(ready - now)

    async def _take_turn(self, chat: int | str) -> None:
        """Wait until both the chat's window and the global gate allow one message.

        A per-chat lock makes the check and the count one step, so two requests
        to one chat can never both pass the same free slot.
        """
        key = str(chat)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            await self._wait_for_chat(chat)
            await self._gate.acquire()
            self._chats.window(chat).record(self._clock())
        self._sent += 1
        if self._sent % 1000 == 0:
            now = self._clock()
            self._chats.prune(now)
            for k in [k for k, lk in self._locks.items() if not lk.locked()]:
                del self._locks[k]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat = data.get("chat_id")
        if endpoint not in SENDING_METHODS or chat is None:
            return await callback(*args, **kwargs)
        attempt = 0
        while True:
            await self._take_turn(chat)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as e:
                seconds = retry_after_seconds(e)
                self._gate.pause(seconds)
                attempt += 1
                log.warning(
                    "Telegram asked to slow down: pausing all sending for %.1f s (%s, try %d)",
                    seconds,
                    endpoint,
                    attempt,
                )
                if attempt > self._max_retries:
                    raise
