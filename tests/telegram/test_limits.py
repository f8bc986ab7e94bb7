"""Rate limits applied before sending: windows, the FIFO gate, the PTB limiter."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram.error import Forbidden, RetryAfter

from feedbot.telegram.send.limits import (
    DEFAULT_MARGIN,
    FeedbotRateLimiter,
    Gate,
    RateLimits,
    Window,
    is_group_chat,
    retry_after_seconds,
)


@pytest.mark.parametrize(
    ("events", "now", "expected"),
    [
        ([], 10.0, 10.0),  # empty: free now
        ([9.5], 10.0, 10.0),  # under the limit
        ([9.5, 9.6, 9.7], 10.0, 10.5),  # full: when the oldest leaves
        ([8.0, 9.6, 9.7], 10.0, 10.0),  # the oldest already left
        ([9.0, 9.6, 9.7], 10.0, 10.0),  # exactly at the edge counts as gone
    ],
)
def test_window_free_at(events: list[float], now: float, expected: float) -> None:
    window = Window(3, 1.0, margin=0.0)
    for at in events:
        window.record(at)
    assert window.free_at(now) == pytest.approx(expected)


def test_window_per_second_fractional_rate() -> None:
    window = Window.per_second(0.5, margin=0.0)  # one event every 2 s
    window.record(0.0)
    assert window.free_at(1.0) == pytest.approx(2.0)
    assert Window.per_second(30).limit == 30


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_window_never_lets_limit_plus_one_into_a_span(gaps: list[float]) -> None:
    """Events taken at free_at() never exceed the limit in any span."""
    window = Window(5, 1.0, margin=0.0)
    now, taken = 0.0, []
    for gap in gaps:
        now = window.free_at(now + gap)
        window.record(now)
        taken.append(now)
    for i in range(len(taken) - 5):
        assert taken[i + 5] - taken[i] >= 1.0 - 1e-9


def test_group_and_private_chats_get_their_own_limits() -> None:
    assert is_group_chat(-1001234) and is_group_chat("@channel")
    assert not is_group_chat(42) and not is_group_chat("42")
    limits = RateLimits(chat_rate=1.0, group_per_minute=20)
    assert limits.window(-5).limit == 20
    assert limits.window(7).limit == 1
    limits.window(7).record(0.0)
    limits.prune(100.0)
    assert len(limits) == 0


def test_retry_after_seconds_reads_without_warnings() -> None:
    assert retry_after_seconds(RetryAfter(3)) == 3.0


async def test_gate_hands_out_turns_in_order_and_within_the_window() -> None:
    gate = Gate(Window(5, 0.2, margin=0.0))
    order: list[int] = []
    stamps: list[float] = []

    async def take(i: int) -> None:
        taken = await gate.acquire()
        order.append(i)
        stamps.append(time.monotonic())
        gate.settle(taken, time.monotonic())  # answered at once

    await asyncio.gather(*(take(i) for i in range(20)))
    await gate.close()
    assert order == list(range(20))
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 0.2 - 0.002


async def test_gate_pause_holds_everyone() -> None:
    gate = Gate(Window(100, 1.0))
    gate.pause(0.3)
    start = time.monotonic()
    await asyncio.gather(gate.acquire(), gate.acquire())
    assert time.monotonic() - start >= 0.29
    await gate.close()


async def test_limiter_pauses_and_retries_on_retry_after() -> None:
    limiter = FeedbotRateLimiter(global_rate=1000, chat_rate=100, group_per_minute=20)
    calls: list[float] = []

    async def send() -> bool:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RetryAfter(1)
        return True

    result = await limiter.process_request(send, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert result is True
    assert len(calls) == 2
    assert calls[1] - calls[0] >= 0.99
    await limiter.shutdown()


async def test_limiter_gives_up_after_max_retries_and_passes_other_errors() -> None:
    limiter = FeedbotRateLimiter(
        global_rate=1000, chat_rate=100, group_per_minute=20, max_retries=0
    )

    async def flood() -> bool:
        raise RetryAfter(0)

    async def blocked() -> bool:
        raise Forbidden("Forbidden: bot was blocked by the user")

    with pytest.raises(RetryAfter):
        await limiter.process_request(flood, (), {}, "sendMessage", {"chat_id": 1}, None)
    with pytest.raises(Forbidden):
        await limiter.process_request(blocked, (), {}, "sendMessage", {"chat_id": 1}, None)
    await limiter.shutdown()


async def test_limiter_spaces_messages_to_one_chat_but_not_other_methods() -> None:
    limiter = FeedbotRateLimiter(global_rate=1000, chat_rate=5, group_per_minute=20)
    stamps: list[float] = []

    async def send() -> bool:
        stamps.append(time.monotonic())
        return True

    await asyncio.gather(
        *(
            limiter.process_request(send, (), {}, "sendMessage", {"chat_id": 9}, None)
            for _ in range(10)
        )
    )
    for i in range(len(stamps) - 5):
        assert stamps[i + 5] - stamps[i] >= 1.0
    start = time.monotonic()
    for _ in range(20):
        await limiter.process_request(send, (), {}, "getChatMember", {"chat_id": 9}, None)
    assert time.monotonic() - start < 0.5  # not throttled
    await limiter.shutdown()


def test_window_counts_an_event_until_a_span_after_its_answer() -> None:
    window = Window(2, 1.0, margin=0.0)
    window.record(0.0)
    window.record(0.1)
    assert window.free_at(1.05) == 1.05  # the first event left at 1.0
    window.settle(0.0, 0.5)  # ... unless its answer came at 0.5: Telegram saw it by then
    assert window.free_at(1.05) == pytest.approx(1.1)
    assert window.free_at(1.2) == 1.2
    window.record(1.2)
    assert window.free_at(1.3) == pytest.approx(1.5)  # the settled event is still counted
    window.settle(7.0, 8.0)  # an event already forgotten comes back until its answer + span
    assert window.free_at(8.5) == 8.5


def test_a_request_in_flight_keeps_its_slot_until_it_is_answered() -> None:
    """Taken at 0.0 and still unanswered at 5.0: it may reach Telegram any moment, so it
    still counts (a busy client once let a 31st message into Telegram's second this way)."""
    window = Window(2, 1.0, margin=0.0)
    window.take(0.0)
    window.record(4.5)
    assert window.free_at(5.0) == pytest.approx(5.5)  # the answered one leaves at 5.5
    window.take(5.5)
    assert window.free_at(6.0) > 6.0  # both slots in flight
    window.settle(0.0, 6.0)  # answered at last: it counts until a span after its answer
    assert window.free_at(6.5) == pytest.approx(7.0)
    window.settle(5.5, 6.8)
    assert window.free_at(7.0) == 7.0 and not window.idle(7.0) and window.idle(7.9)


async def test_limiter_frees_a_slot_a_window_after_the_answer() -> None:
    limiter = FeedbotRateLimiter(global_rate=2, chat_rate=100, group_per_minute=20)
    starts: list[float] = []

    async def slow_send() -> bool:
        starts.append(time.monotonic())
        await asyncio.sleep(0.2)
        return True

    await asyncio.gather(
        *(
            limiter.process_request(slow_send, (), {}, "sendMessage", {"chat_id": c}, None)
            for c in (1, 2, 3)
        )
    )
    await limiter.shutdown()
    # Two slots a second; the third send waits for a second after the first *answer*.
    assert starts[2] - starts[0] >= 1.2


def test_new_rates_apply_at_once_and_keep_what_was_counted() -> None:
    """SIGHUP: the windows open now take the new limits; what was sent still counts."""
    limiter = FeedbotRateLimiter(global_rate=100, chat_rate=100, group_per_minute=20)
    window = limiter.gate.window
    window.record(0.0)
    window.record(0.1)
    assert window.free_at(0.2) == 0.2
    limiter.set_rates(global_rate=2, chat_rate=1, group_per_minute=10)
    assert window.limit == 2
    assert window.free_at(0.2) == pytest.approx(1.0 + DEFAULT_MARGIN)
