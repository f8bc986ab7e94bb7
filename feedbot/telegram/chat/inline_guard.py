"""What keeps inline mode cheap under a flood — pure, on an injected clock.

Telegram sends an inline query for every pause in typing, so one user can send many a
second, and a script more. Two things stand between them and the database:

- `Budget`, a token bucket per user: `BURST` queries at once, then `RATE` a second. A
  query over budget is *refused*: it gets no answer at all. Not answering costs nothing —
  no search, no request to Telegram — while an empty answer would still spend one
  answerInlineQuery on the connections kept for replies (`RESERVED_CONNECTIONS` in
  `feedbot.telegram.chat.inline`), which a flood must not fill; the client drops a query
  unanswered after a few seconds, and a person typing stays well within the budget (the
  next pause in typing asks again). The buckets of at most `MAX_USERS` users are kept,
  the least recently seen forgotten first.
- `AnswerCache`: the answer to (canonical query, offset, language) for `REUSE_SECONDS`,
  at most `CACHE_SIZE` of them, so the same words typed by many people cost one search.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Generic, TypeVar

if TYPE_CHECKING:
    from telegram import InlineQueryResult

__all__ = [
    "BURST",
    "CACHE_SIZE",
    "MAX_USERS",
    "RATE",
    "REUSE_SECONDS",
    "AnswerCache",
    "Budget",
    "InlineGuard",
]

BURST: Final = 10  # queries one user may send at once
RATE: Final = 5.0  # and then a second
MAX_USERS: Final = 10_000  # buckets kept (a forgotten user starts again with a full one)
REUSE_SECONDS: Final = 5.0  # how long an answer is reused
CACHE_SIZE: Final = 512  # answers kept

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Budget:
    """A token bucket per user: `take` says whether one more query may run now."""

    def __init__(
        self,
        *,
        rate: float = RATE,
        burst: int = BURST,
        max_users: int = MAX_USERS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate, self._burst, self._max = rate, float(burst), max_users
        self._clock = clock
        self._buckets: OrderedDict[int, tuple[float, float]] = OrderedDict()  # tokens, when

    def take(self, user: int) -> bool:
        """Spend one of ``user``'s tokens if there is one; False when over budget."""
        now = self._clock()
        tokens, then = self._buckets.pop(user, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[user] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self._max:
            self._buckets.popitem(last=False)
        return allowed


class AnswerCache(Generic[K, V]):
    """Values for ``ttl`` seconds, at most ``size`` of them (the oldest go first)."""

    def __init__(
        self,
        *,
        ttl: float = REUSE_SECONDS,
        size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl, self._size, self._clock = ttl, size, clock
        self._items: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value stored for ``key`` less than ``ttl`` seconds ago, or None."""
        found = self._items.get(key)
        if found is None:
            return None
        if self._clock() >= found[0]:
            del self._items[key]
            return None
        return found[1]

    def put(self, key: K, value: V) -> None:
        self._items.pop(key, None)
        self._items[key] = (self._clock() + self._ttl, value)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


#: (canonical query, offset, language) → (results, next_offset)
Answers = AnswerCache[tuple[str, int, str], tuple[tuple["InlineQueryResult", ...], str]]


@dataclass
class InlineGuard:
    """The bot's budget and answer cache for inline queries (one per bot)."""

    budget: Budget = field(default_factory=Budget)
    answers: Answers = field(default_factory=AnswerCache)
