"""The inline budget and answer cache, on a clock the tests move."""

from __future__ import annotations

from feedbot.telegram.chat.inline_guard import BURST, RATE, AnswerCache, Budget


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_per_user() -> None:
    clock = Clock()
    budget = Budget(clock=clock)
    assert [budget.take(1) for _ in range(BURST + 5)] == [True] * BURST + [False] * 5
    assert budget.take(2)  # another user has a budget of their own
    clock.now += 1.0
    assert sum(budget.take(1) for _ in range(20)) == int(RATE)
    clock.now += 3600  # a full bucket again, never more
    assert sum(budget.take(1) for _ in range(50)) == BURST


def test_refusals_spend_nothing() -> None:
    clock = Clock()
    budget = Budget(rate=1.0, burst=1, clock=clock)
    assert budget.take(1) and not budget.take(1)
    for _ in range(50):  # refused while the bucket refills: the refill goes on
        clock.now += 0.01
        assert not budget.take(1)
    clock.now += 0.6  # 1.1 s after the first query: one token again
    assert budget.take(1)


def test_the_least_recently_seen_users_are_forgotten_first() -> None:
    budget = Budget(burst=1, max_users=2, clock=Clock())
    assert budget.take(1) and budget.take(2)
    assert not budget.take(1)  # 1 is now the most recent
    assert budget.take(3)  # forgets 2
    assert budget.take(2)  # a fresh bucket
    assert not budget.take(3)


def test_answers_live_a_few_seconds_and_the_cache_is_bounded() -> None:
    clock = Clock()
    cache: AnswerCache[str, int] = AnswerCache(ttl=5.0, size=3, clock=clock)
    cache.put("a", 1)
    clock.now += 4.9
    assert cache.get("a") == 1
    clock.now += 0.1
    assert cache.get("a") is None and len(cache) == 0
    for key in "bcde":
        cache.put(key, ord(key))
    assert len(cache) == 3 and cache.get("b") is None and cache.get("e") == ord("e")
