"""Telegram's rate limits, applied before sending rather than learned from 429s.

Three layers:

- `Window`: pure bookkeeping, "at most ``limit`` events in any ``period`` seconds";
  the clock is an argument. An event is counted from the moment the request
  starts until ``period`` after its answer came back (`Window.settle`): Telegram
  saw it at some moment in between, so this is the only accounting that cannot
  be fooled by a request that lingered in the client while a later one overtook it.
- `Gate`: an asyncio FIFO in front of one `Window`, plus a pause that a
  `RetryAfter` sets for everyone. One dispatcher wakes waiters in order, so a
  thousand waiting senders cost one timer, not a thousand.
- `FeedbotRateLimiter`: python-telegram-bot's `BaseRateLimiter` seam. Every
  request that sends into a chat waits for that chat's window (1/s for private
  chats, 20/min for groups and channels), then for the global gate (30/s, or the
  paid rate). Everything the bot sends, broadcasts and command replies alike,
  passes the same gate; edits and deletes count too, and with paid broadcasts on
  they also pass an unpaid gate (Telegram does not sell faster edits).
"""

from __future__ import annotations

import asyncio
import bisect
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

from feedbot.errors import FencedError
from feedbot.telegram.send.request import SENDING_METHODS, NotLeading

__all__ = [
    "FeedbotRateLimiter",
    "Gate",
    "RateLimits",
    "Window",
    "is_group_chat",
    "retry_after_seconds",
]

log = logging.getLogger("feedbot.telegram.limits")

Clock = Callable[[], float]

#: Requests Telegram never lets a bot pay for: with paid broadcasts on they still keep
#: to the unpaid global rate (`FeedbotRateLimiter`'s ``unpaid_rate``).
UNPAID_METHODS = frozenset({"editMessageText", "deleteMessage"})

#: Slack added to every window. Transit times need none: an event counts from its
#: request's start until a window after its answer (`Window.settle`), which already
#: brackets the moment Telegram saw it. This only absorbs clock rounding.
DEFAULT_MARGIN = 0.005
PENDING_MAX = 120.0  # seconds an unanswered request may hold its slot (longer than any timeout)
PENDING_POLL = 0.005  # with every slot in flight, how soon to look again


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

    __slots__ = ("_events", "_pending", "limit", "span")

    def __init__(self, limit: int, period: float, margin: float = DEFAULT_MARGIN) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("a window needs limit >= 1 and period > 0")
        self.limit = limit
        self.span = period + margin
        self._events: list[float] = []  # sorted
        self._pending: list[float] = []  # taken, not answered yet (sorted start times)

    @classmethod
    def per_second(cls, rate: float, margin: float = DEFAULT_MARGIN) -> Window:
        """A window for ``rate`` events a second (fractional rates widen the period)."""
        limit = max(1, int(rate))
        return cls(limit, limit / rate, margin)

    def reshape(self, other: Window) -> None:
        """Take ``other``'s limit and span, keeping the events already counted."""
        self.limit, self.span = other.limit, other.span

    def free_at(self, now: float) -> float:
        """The earliest time at or after ``now`` when one more event fits.

        A request taken and not answered yet holds its slot however long ago it was
        taken: it may reach the server at any moment (a request stuck in a busy
        client would otherwise land in a window that had already let others in)."""
        events, pending = self._events, self._pending
        gone = bisect.bisect_right(events, now - self.span)
        if gone:
            del events[:gone]
        lost = bisect.bisect_right(pending, now - PENDING_MAX)
        if lost:  # taken by a request that never settled (cancelled): let it go
            del pending[:lost]
        free = self.limit - len(pending)
        if len(events) < free:
            return now
        if free <= 0:
            return now + PENDING_POLL  # every slot is in flight: look again shortly
        return events[len(events) - free] + self.span

    def take(self, at: float) -> None:
        """Count one request sent at ``at``, in flight until `settle` is called for it."""
        pending = self._pending
        if not pending or pending[-1] <= at:
            pending.append(at)
        else:
            bisect.insort(pending, at)

    def record(self, at: float) -> None:
        """Count one event at ``at``."""
        events = self._events
        if not events or events[-1] <= at:
            events.append(at)
        else:
            bisect.insort(events, at)

    def settle(self, started: float, ended: float) -> None:
        """The event recorded at ``started`` is confirmed done at ``ended``: count it from then.

        The server saw the request somewhere between the two, so the event keeps its
        slot until ``span`` after ``ended``.
        """
        for taken in (self._pending, self._events):
            i = bisect.bisect_left(taken, started)
            if i < len(taken) and taken[i] == started:
                del taken[i]
                break
        self.record(max(started, ended))

    def idle(self, now: float) -> bool:
        """True when no event counts any more: the window can be dropped."""
        return not self._pending and (not self._events or self._events[-1] <= now - self.span)


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
            window = self._windows[key] = self._new(key)
        return window

    def prune(self, now: float) -> None:
        """Forget chats whose windows are empty, so memory stays bounded."""
        for key in [k for k, w in self._windows.items() if w.idle(now)]:
            del self._windows[key]

    def __len__(self) -> int:
        return len(self._windows)

    def reshape(self, *, chat_rate: float, group_per_minute: int) -> None:
        """New limits for every chat, the windows open now included."""
        self._chat_rate, self._group_per_minute = chat_rate, group_per_minute
        for key, window in self._windows.items():
            window.reshape(self._new(key))

    def private_span(self) -> float:
        """Seconds a message to a private chat counts against that chat."""
        return Window.per_second(self._chat_rate).span

    def _new(self, key: str) -> Window:
        if is_group_chat(key):
            return Window(self._group_per_minute, 60.0)
        return Window.per_second(self._chat_rate)


class Gate:
    """A FIFO queue in front of a `Window`, with a shared pause for ``RetryAfter``."""

    def __init__(self, window: Window, *, clock: Clock = time.monotonic) -> None:
        self._window = window
        self._clock = clock
        self._paused_until = 0.0
        self._waiters: deque[asyncio.Future[float]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def paused_until(self) -> float:
        return self._paused_until

    @property
    def window(self) -> Window:
        return self._window

    def pause(self, seconds: float) -> None:
        """Hold every sender for ``seconds`` from now (Telegram's ``retry_after``)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def ready_at(self, now: float) -> float:
        return max(self._paused_until, self._window.free_at(now))

    def _take(self, now: float) -> float:
        self._window.take(now)
        return now

    async def acquire(self) -> float:
        """Wait for a turn; returns the time the event was counted at (for `settle`)."""
        now = self._clock()
        if not self._waiters and self.ready_at(now) <= now:
            return self._take(now)
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="feedbot-rate-gate")
        return await future

    def settle(self, started: float, ended: float) -> None:
        """The request that took the turn at ``started`` was answered at ``ended``."""
        self._window.settle(started, ended)

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
                    future.set_result(self._take(now))
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
        unpaid_rate: float | None = None,
        max_retries: int = 5,
        clock: Clock = time.monotonic,
    ) -> None:
        self._clock = clock
        self._gate = Gate(Window.per_second(global_rate), clock=clock)
        # edits and deletes with paid broadcasts on: the unpaid rate as well
        self._unpaid = Gate(Window.per_second(unpaid_rate or global_rate), clock=clock)
        self._paid = unpaid_rate is not None
        self._chats = RateLimits(chat_rate=chat_rate, group_per_minute=group_per_minute)
        self._max_retries = max_retries
        self._locks: dict[str, asyncio.Lock] = {}
        self._sent = 0

    @property
    def gate(self) -> Gate:
        return self._gate

    def set_rates(
        self,
        *,
        global_rate: float,
        chat_rate: float,
        group_per_minute: int,
        unpaid_rate: float | None = None,
    ) -> None:
        """Apply new limits at once (SIGHUP), keeping what was already sent in the windows."""
        self._gate.window.reshape(Window.per_second(global_rate))
        self._unpaid.window.reshape(Window.per_second(unpaid_rate or global_rate))
        self._paid = unpaid_rate is not None
        self._chats.reshape(chat_rate=chat_rate, group_per_minute=group_per_minute)

    def take_over(self) -> None:
        """This process now sends for the bot, after another one (the previous leader
        replica, or this daemon before a restart). Telegram counts the bot's messages, not
        a process's, and what the other one sent in the last second still counts while
        this limiter's windows are empty: hold every message for one window (a group's
        minute is not waited out)."""
        self._gate.pause(max(self._gate.window.span, self._chats.private_span()))

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        await self._gate.close()
        await self._unpaid.close()

    async def _wait_for_chat(self, chat: int | str) -> None:
        window = self._chats.window(chat)
        while True:
            now = self._clock()
            ready = max(window.free_at(now), self._gate.paused_until)
            if ready <= now:
                return
            await asyncio.sleep(ready - now)

    async def _take_turn(self, chat: int | str, unpaid: bool) -> tuple[float, float, float]:
        """Wait until both the chat's window and the global gate allow one message.

        A per-chat lock makes the check and the count one step, so two requests
        to one chat can never both pass the same free slot. Returns when the
        global, the chat's (and for ``unpaid``, the unpaid gate's) events were counted,
        to settle them with the answer.
        """
        key = str(chat)
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        async with lock:
            await self._wait_for_chat(chat)
            unpaid_started = await self._unpaid.acquire() if unpaid else -1.0
            started = await self._gate.acquire()
            chat_started = self._clock()
            self._chats.window(chat).take(chat_started)
        self._sent += 1
        if self._sent % 1000 == 0:
            now = self._clock()
            self._chats.prune(now)
            for k in [k for k, lk in self._locks.items() if not lk.locked()]:
                del self._locks[k]
        return started, chat_started, unpaid_started

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
        unpaid = self._paid and endpoint in UNPAID_METHODS
        while True:
            started, chat_started, unpaid_started = await self._take_turn(chat, unpaid)
            try:
                return await callback(*args, **kwargs)
            except NotLeading as e:  # refused at the HTTP write (feedbot.telegram.send.request)
                raise FencedError(str(e)) from None
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
            finally:
                ended = self._clock()
                self._gate.settle(started, ended)
                self._chats.window(chat).settle(chat_started, ended)
                if unpaid:
                    self._unpaid.settle(unpaid_started, ended)
