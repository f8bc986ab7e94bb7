"""The delivery ledger drained into the fake Bot API: fan-out, faults, blocked and moved chats.

The bot runs through the real python-telegram-bot stack and our rate limiter over
HTTP, on a real SQLite store; new articles reach the ledger through the real
`Indexer`, as in the daemon. The tests marked slow run ``python -m feedbot run``
as a subprocess, including a kill -9 in the middle of a broadcast.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest

from feedbot.articles.parse import parse
from feedbot.errors import StoreError
from feedbot.fakegram import SEND_METHODS as SENDS
from feedbot.fakegram import FakeBotAPI, RequestRecord
from feedbot.publish.feeds import article_url
from feedbot.store import Store
from feedbot.telegram.assemble import build_service, handler_settings
from feedbot.telegram.chat.handlers import BotDeps, build_application
from feedbot.telegram.render.messages import render_post
from feedbot.telegram.send.compose import Rendering
from feedbot.telegram.send.drain import DrainSettings
from feedbot.telegram.send.editor import Editor
from feedbot.telegram.send.limits import FeedbotRateLimiter
from feedbot.telegram.send.sender import Sender, SendSettings
from feedbot.telegram.service import TelegramService
from tests import daemonkit
from tests.botkit import TOKEN, Index, assert_token_absent, make_settings, plain
from tests.storekit import deliveries_for, off_loop
from tests.waiting import until, until_async

SETTINGS = SendSettings(default_language="en", max_attempts=3)  # a sender built by hand
EDITING = DrainSettings(default_language="en", max_attempts=3)  # an editor built by hand

T = TypeVar("T")

CHANNEL, CHANNEL_NAME = -1009000, "news_channel"


@pytest.fixture(autouse=True)
def _token_never_logged(
    caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    in_process = request.node.get_closest_marker("slow") is None  # else the daemon's stderr
    formatter = caplog.handler.formatter or logging.Formatter()
    assert_token_absent(caplog.records, formatter, expect_records=in_process)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(TOKEN) as server:
        server.add_chat(CHANNEL, "channel", username=CHANNEL_NAME)
        yield server


@pytest.fixture
def index(tmp_path: Path, store: Store) -> Index:
    return Index(tmp_path / "index", store, channels=(f"@{CHANNEL_NAME}",))


@pytest.fixture
async def service(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path
) -> AsyncIterator[TelegramService]:
    settings = make_settings(
        tmp_path, fake.base_url, storage_url=database_url, channels=[f"@{CHANNEL_NAME}"]
    )
    svc = build_service(settings, store)
    await svc.start()
    await svc.lead()
    try:
        yield svc
    finally:
        await svc.stop()


def owed(store: Store) -> int:
    stats = store.chats.stats()
    return stats["deliveries_pending"] + stats["deliveries_sending"]


async def settle(fake: FakeBotAPI, store: Store, timeout: float = 30.0) -> None:
    """Wait until the ledger owes nothing."""
    await until_async(lambda: owed(store) == 0, timeout=timeout)


async def broadcast_one(index: Index, service: TelegramService) -> str:
    """Take a baseline of one article, then write one more: its id, queued and woken for."""
    index.write(1)
    await off_loop(index.scan)
    [new] = index.write(1)
    assert await off_loop(index.scan) == (new,)
    service.wake()
    return new


def subscribe(store: Store, *chats: int) -> None:
    for chat in chats:
        store.chats.subscribe(str(chat), kind="private" if chat > 0 else "group", title=None)


async def test_new_article_reaches_subscribers_and_channel(
    fake: FakeBotAPI, store: Store, index: Index, service: TelegramService
) -> None:
    await off_loop(subscribe, store, 11, 12, -13, 14)
    await off_loop(store.chats.unsubscribe, "14")
    index.write(3)
    assert await off_loop(index.scan) == ()  # the baseline: nothing is broadcast
    [new] = index.write(1, headed=2)
    assert await off_loop(index.scan) == (new,)
    service.wake()
    await settle(fake, store)
    article = parse(new, (index.folder / f"{new}.txt").read_bytes())
    for chat in (11, 12, -13, CHANNEL):
        pieces = fake.texts(chat)
        assert len(pieces) == 1, (chat, pieces)  # one message, nothing for baseline articles
        text = plain(pieces)
        assert pieces[0].startswith(f"<b>{article.headline[:20]}") or article.headline[:20] in text
        for section in article.sections:
            if section.heading:
                assert " ".join(section.heading.split()) in text
            assert " ".join(section.summary.split()) in text
        assert f"articles/{new}.html" in pieces[0]
        assert "Read the article" in text
    assert fake.texts(14) == []
    rows = await off_loop(deliveries_for, store, new)
    assert {r["chat"] for r in rows} == {"11", "12", "-13", f"@{CHANNEL_NAME}"}
    assert all(r["status"] == "sent" and len(json.loads(r["message_ids"])) == 1 for r in rows)
    assert all(r["sent_at"].tzinfo is not None and r["error"] is None for r in rows)
    assert all(s.params.get("link_preview_options") for s in fake.sent)


async def test_chat_language_picks_the_post_language(
    fake: FakeBotAPI, store: Store, index: Index, service: TelegramService
) -> None:
    await off_loop(subscribe, store, 21, 22)
    await off_loop(store.chats.set_chat_language, "22", "it")
    index.write(1)
    await off_loop(index.scan)
    index.write(1)
    await off_loop(index.scan)
    service.wake()
    await settle(fake, store)
    assert "Read the article" in plain(fake.texts(21))
    assert "Leggi l'articolo" in plain(fake.texts(22))


async def test_late_subscriber_gets_no_old_articles(
    fake: FakeBotAPI, store: Store, index: Index, service: TelegramService
) -> None:
    index.write(1)
    await off_loop(index.scan)
    index.write(1)
    await off_loop(index.scan)
    await off_loop(subscribe, store, 31)  # after the article was queued
    service.wake()
    await settle(fake, store)
    await until_async(lambda: service.sender.in_flight == 0)  # nothing more can be sent
    assert fake.texts(31) == []
    assert len(fake.texts(CHANNEL)) == 1


class LimiterLog:
    """What the bot's rate limiter decided, read at its seams (PTB's `process_request`,
    the gate's `acquire` and `pause`): for each message, in order per chat, when the gate
    let it through and, if Telegram answered 429, when that answer paused everyone."""

    def __init__(self, limiter: FeedbotRateLimiter, monkeypatch: pytest.MonkeyPatch) -> None:
        self.admitted: list[float] = []
        self.pauses: list[tuple[float, float]] = []
        self._tries: dict[str, list[list[float]]] = {}  # chat -> [admitted, paused?] a request
        current: contextvars.ContextVar[list[float]] = contextvars.ContextVar("current")
        gate, process = limiter.gate, limiter.process_request

        async def acquire(inner: Any = gate.acquire) -> float:
            started: float = await inner()
            self.admitted.append(started)
            current.set([started])  # this task goes on to its request with no await between
            return started

        def pause(seconds: float, inner: Any = gate.pause) -> None:
            now = time.monotonic()
            self.pauses.append((now, seconds))
            current.get().append(now)  # in the task whose request was answered 429
            inner(seconds)

        async def process_request(callback: Any, **kw: Any) -> Any:
            async def request(*args: Any, **kwargs: Any) -> Any:
                self._tries.setdefault(str(kw["data"]["chat_id"]), []).append(current.get())
                return await callback(*args, **kwargs)

            return await process(request, **kw)

        monkeypatch.setattr(gate, "acquire", acquire)
        monkeypatch.setattr(gate, "pause", pause)
        monkeypatch.setattr(limiter, "process_request", process_request)

    def _try(self, fake: FakeBotAPI, request: RequestRecord) -> list[float]:
        """A chat's sends go one at a time: its n-th request at the fake is its n-th try."""
        same = [r for r in fake.requests if r.chat_id == request.chat_id and r.method in SENDS]
        return self._tries[str(request.chat_id)][same.index(request)]

    def late(self, fake: FakeBotAPI) -> list[RequestRecord]:
        """Requests that arrived in a 429's retry window although the gate let them through
        after that 429's answer had paused it."""
        opened = {r.time: r for r in fake.requests if r.status == 429}
        return [
            r
            for w in fake.retry_windows
            for r in fake.requests
            if r.method in SENDS and w.start < r.time < w.end
            if self._try(fake, r)[0] >= self._try(fake, opened[w.start])[1]
        ]


async def test_300_subscribers_with_faults(
    fake: FakeBotAPI,
    store: Store,
    index: Index,
    service: TelegramService,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chats = list(range(1000, 1300))
    await off_loop(subscribe, store, *chats)
    index.write(1)
    await off_loop(index.scan)
    fake.set_faults(
        rate=0.1,
        kinds=("5xx", "timeout", "429"),
        seed=5,
        timeout_delay=1.0,
        timeout_delivers=True,
    )
    log = LimiterLog(service.application.bot.rate_limiter, monkeypatch)
    [new] = index.write(1)
    await off_loop(index.scan)
    service.wake()
    await settle(fake, store, timeout=60)
    kinds = Counter(a.outcome for a in fake.attempts)
    assert kinds["5xx"] and kinds["timeout"] and kinds["429"], kinds
    ok = Counter(s.chat_id for s in fake.sent)
    # Every chat got the post confirmed exactly once: a confirmed row is never resent.
    assert sorted(ok) == sorted([*chats, CHANNEL]) and set(ok.values()) == {1}
    # The only extra copies are messages Telegram delivered while the answer was lost.
    extra = [a for a in fake.attempts if a.description == "injected, delivered"]
    assert len(fake.sent) + len(extra) == len(chats) + 1 + len(extra)
    rows = await off_loop(deliveries_for, store, new)
    assert {r["status"] for r in rows} == {"sent"}
    assert fake.count_429 == kinds["429"]
    floods = [a for a in fake.attempts if a.outcome == "429" and a.description != "injected"]
    assert floods == [], [(a.chat_id, a.time, a.description) for a in floods]
    # A 429 stops every sender for retry_after. Telegram's window starts when the
    # request arrives, ours when the answer does: requests the limiter let through in
    # between may still land in the window (however long the answer took under load).
    # Nothing it let through after it heard of the 429 may; a limiter that did not
    # pause would land ~20 more requests in every window.
    assert len(log.pauses) == kinds["429"]  # every 429 answered paused everyone
    for paused, seconds in log.pauses:
        assert not [t for t in log.admitted if paused <= t < paused + seconds]
    assert fake.requests_in_retry_windows(), "no request met a retry window: nothing tested"
    assert log.late(fake) == []


async def test_blocked_chat_is_unsubscribed_after_the_first_403(
    fake: FakeBotAPI, store: Store, index: Index, service: TelegramService
) -> None:
    await off_loop(subscribe, store, 41, 42)
    fake.block(42)
    index.write(1)
    await off_loop(index.scan)
    [first, second] = index.write(2)
    await off_loop(index.scan)
    service.wake()
    await settle(fake, store)
    assert await off_loop(store.chats.subscribers) == ["41"]
    blocked = [a for a in fake.attempts if a.chat_id == 42]
    assert [a.outcome for a in blocked] == ["403"]  # no retry, and not for the second article
    rows = {
        (r["article_id"], r["chat"]): r
        for a in (first, second)
        for r in await off_loop(deliveries_for, store, a)
    }
    assert {rows[(a, "42")]["status"] for a in (first, second)} == {"failed"}
    assert "Forbidden" in str(rows[(first, "42")]["error"]) or "Forbidden" in str(
        rows[(second, "42")]["error"]
    )
    assert len(fake.texts(41)) == 2


async def test_unknown_channel_fails_without_retry(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, fake.base_url, storage_url=database_url, channels=["@no_such_channel"]
    )
    idx = await off_loop(Index, tmp_path / "index", store, channels=("@no_such_channel",))
    idx.write(1)
    await off_loop(idx.scan)
    [new] = idx.write(1)
    await off_loop(idx.scan)
    svc = build_service(settings, store)
    await svc.start()
    await svc.lead()
    try:
        await settle(fake, store)
    finally:
        await svc.stop()
    [row] = await off_loop(deliveries_for, store, new)
    assert row["status"] == "failed" and "chat not found" in str(row["error"]).lower()
    assert len([a for a in fake.attempts if a.chat_id == "@no_such_channel"]) == 1


async def test_migrated_group_follows_the_new_id(
    fake: FakeBotAPI, store: Store, index: Index, service: TelegramService
) -> None:
    await off_loop(subscribe, store, -51)
    fake.migrate(-51, -1000000000051)
    new = await broadcast_one(index, service)
    await settle(fake, store)
    assert len(fake.texts(-1000000000051)) == 1
    assert fake.texts(-51) == []
    assert await off_loop(store.chats.subscribers) == ["-1000000000051"]
    rows = {r["chat"]: r["status"] for r in await off_loop(deliveries_for, store, new)}
    assert rows["-1000000000051"] == "sent"


async def test_group_migrating_while_its_post_is_in_flight_gets_it_once(
    fake: FakeBotAPI, store: Store, index: Index, service: TelegramService
) -> None:
    """The send to the new id is slow; the row must stay claimed meanwhile, not be re-queued."""
    await off_loop(subscribe, store, -52, -53)
    fake.migrate(-52, -1000000000052)
    fake.latency = 1.5
    new = await broadcast_one(index, service)
    await settle(fake, store)
    await until_async(lambda: service.sender.in_flight == 0)  # nothing claimed a second time
    assert len(fake.texts(-53)) == 1
    assert len(fake.texts(-1000000000052)) == 1
    rows = {r["chat"]: r for r in await off_loop(deliveries_for, store, new)}
    assert rows["-1000000000052"]["status"] == "sent" and rows["-53"]["status"] == "sent"
    assert "-52" not in rows


async def test_migration_when_the_new_id_is_owed_the_post_already(
    fake: FakeBotAPI, store: Store, index: Index, service: TelegramService
) -> None:
    """Both ids subscribed (the bot saw the supergroup first): the post goes there once."""
    await off_loop(subscribe, store, -54, -1000000000054)
    fake.migrate(-54, -1000000000054)
    new = await broadcast_one(index, service)
    await settle(fake, store)
    assert len(fake.texts(-1000000000054)) == 1
    rows = {r["chat"]: r for r in await off_loop(deliveries_for, store, new)}
    assert rows["-1000000000054"]["status"] == "sent"
    assert rows["-54"]["status"] == "failed" and "owed it already" in rows["-54"]["error"]


async def test_network_errors_retry_then_fail(
    database_url: str, fake: FakeBotAPI, store: Store, index: Index, tmp_path: Path
) -> None:
    await off_loop(subscribe, store, 61)
    index.write(1)
    await off_loop(index.scan)
    [new] = index.write(1)
    await off_loop(index.scan)
    fake.set_faults(rate=1.0, kinds=("5xx",))
    settings = make_settings(tmp_path, fake.base_url, storage_url=database_url, max_attempts=2)
    svc = build_service(settings, store)
    await svc.start()
    await svc.lead()
    try:
        await settle(fake, store, timeout=10)
    finally:
        await svc.stop()
    attempts = [a for a in fake.attempts if a.chat_id == 61]
    assert [a.outcome for a in attempts] == ["5xx", "5xx"]
    assert attempts[1].time - attempts[0].time >= 1.9  # backoff
    [row] = [r for r in await off_loop(deliveries_for, store, new) if r["chat"] == "61"]
    assert row["status"] == "failed"
    assert row["attempts"] == 2 and "NetworkError" in str(row["error"])
    assert await off_loop(store.chats.subscribers) == [
        "61"
    ]  # a network error says nothing about the chat


async def hand_built(settings: Any, store: Store) -> tuple[Any, Rendering]:
    """For a sender or editor built by hand: the bot's application (initialized; the
    caller shuts it down) and the rendering of the plain post."""
    application = build_application(
        settings.telegram, BotDeps(store.async_chats(), handler_settings(settings))
    )
    await application.initialize()

    def render(entry: Any, language: str, style: str) -> list[str]:
        return render_post(
            entry, url=article_url(settings.feed, entry.article.id), language=language
        )

    return application, Rendering(render)


class GatedLedger:
    """The real outbox, with a gate the test opens before the next `claim_due` reaches the
    database: a claim that is still running while the sender stops. The sender calls it on
    a database thread, so the gate is a thread's event."""

    def __init__(self, outbox: Any) -> None:
        self._outbox = outbox
        self.claims = 0
        self.waiting = threading.Event()  # a claim is held at the gate
        self.gate = threading.Event()
        self.gate.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._outbox, name)

    def claim_due(self, now: Any, limit: int) -> Any:
        self.claims += 1
        if not self.gate.is_set():
            self.waiting.set()
            self.gate.wait(30)
        return self._outbox.claim_due(now, limit)


async def test_a_claim_still_running_when_the_sender_stops_is_put_back(
    database_url: str, fake: FakeBotAPI, store: Store, index: Index, tmp_path: Path
) -> None:
    """stop() puts the claims back while the run loop's last claim is still on its way to
    the database; that claim takes the row again: it must not stay claimed by nobody."""
    settings = make_settings(tmp_path, fake.base_url, storage_url=database_url)
    await off_loop(subscribe, store, 72)
    index.write(1)
    await off_loop(index.scan)
    [new] = index.write(1)
    await off_loop(index.scan)
    fake.delays["sendmessage"] = 30.0  # the send is under way when the sender stops
    ledger = GatedLedger(store.outbox)
    application, rendering = await hand_built(settings, store)
    sender = Sender(application.bot, ledger, store, rendering, SETTINGS)
    task = asyncio.create_task(sender.run(poll=0.05))

    def status() -> str:
        [row] = [r for r in deliveries_for(store, new) if r["chat"] == "72"]
        return str(row["status"])

    await until_async(lambda: status() == "sending" and len(fake.calls("sendMessage")) >= 1)
    ledger.gate.clear()  # the next claim waits at the gate
    await until_async(ledger.waiting.is_set)
    stopping = asyncio.create_task(sender.stop(grace=0))
    await until_async(lambda: status() == "pending")  # stop() put the row back ...
    ledger.gate.set()  # ... and only now does the last claim reach the database
    await stopping
    await asyncio.wait_for(task, 10)
    await application.shutdown()
    assert await off_loop(status) == "pending"
    fake.delays.pop("sendmessage")


class AwayLedger:
    """The real outbox behind a database that is away for the first ``away`` calls to put
    claims back (each raises the `StoreError` the store raises while it cannot reach it)."""

    def __init__(self, outbox: Any, away: int) -> None:
        self._outbox = outbox
        self.away = away
        self.refused = self.released = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._outbox, name)

    def release_claims(self, keep: Any = ()) -> int:
        if self.refused < self.away:
            self.refused += 1
            raise StoreError("the database is away (test)")
        self.released += 1
        return int(self._outbox.release_claims(keep))


async def test_a_sender_that_starts_while_the_database_is_away_puts_claims_back_later(
    database_url: str, fake: FakeBotAPI, store: Store, index: Index, tmp_path: Path
) -> None:
    """A new leader's sender first puts back what the last one left claimed; when the
    database does not answer then, the sender runs on and puts them back once it does
    (it crashed with a traceback), and the left-over row is sent."""
    settings = make_settings(tmp_path, fake.base_url, storage_url=database_url)
    await off_loop(subscribe, store, 73)
    index.write(1)
    await off_loop(index.scan)
    index.write(1)
    await off_loop(index.scan)
    claimed = await off_loop(store.outbox.claim_due, datetime.now(UTC), 10)  # the last leader's

    def statuses() -> set[str]:
        rows = [r for d in claimed for r in deliveries_for(store, d.article_id)]
        return {str(r["status"]) for r in rows}

    assert claimed and await off_loop(statuses) == {"sending"}
    ledger = AwayLedger(store.outbox, away=2)
    application, rendering = await hand_built(settings, store)
    sender = Sender(application.bot, ledger, store, rendering, SETTINGS)
    task = asyncio.create_task(sender.run(poll=0.05))
    try:
        await until_async(lambda: task.done() or statuses() == {"sent"}, timeout=20)
        assert not task.done(), task.exception()
        assert ledger.refused == 2
        sent = [a.chat_id for a in fake.attempts if a.outcome == "ok"]
        assert len(sent) == len(claimed) and 73 in sent  # each once
    finally:
        await sender.stop(grace=1)
        await asyncio.wait_for(task, 10)
        await application.shutdown()


async def test_an_editor_that_starts_while_the_database_is_away_runs_on(
    fake: FakeBotAPI, store: Store, tmp_path: Path
) -> None:
    """The editor's first put-back, and the next ones its loop tries, meet a database
    that is away: it keeps trying until one goes through (it crashed at the first; and a
    put-back that failed in the loop was not tried again)."""
    settings = make_settings(tmp_path, fake.base_url)
    application, rendering = await hand_built(settings, store)
    ledger = AwayLedger(store.edits, away=3)  # the start's, then two of the loop's
    editor = Editor(application.bot, ledger, store, rendering, EDITING)
    task = asyncio.create_task(editor.run(poll=0.05))
    try:
        await until_async(lambda: task.done() or ledger.released > 0, timeout=30)
        assert not task.done(), task.exception()
        assert ledger.refused == 3
    finally:
        await editor.stop(grace=1)
        await asyncio.wait_for(task, 10)
        await application.shutdown()


async def test_split_post_resumes_at_the_next_piece_after_a_restart(
    database_url: str, fake: FakeBotAPI, store: Store, index: Index, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, fake.base_url, storage_url=database_url)
    await off_loop(subscribe, store, 71)
    index.write(1)
    await off_loop(index.scan)
    [new] = index.write(1, headed=2)
    await off_loop(index.scan)
    [row] = [r for r in await off_loop(deliveries_for, store, new) if r["chat"] == "71"]

    def render(entry: Any, language: str, style: str) -> list[str]:
        return render_post(
            entry, url=article_url(settings.feed, entry.article.id), language=language, limit=250
        )

    entry = await off_loop(store.articles.entry, new)
    assert entry is not None
    pieces = render(entry, "en", "full")
    assert len(pieces) >= 3

    async def run_sender() -> tuple[Sender, asyncio.Task[None], Any]:
        application = build_application(
            settings.telegram, BotDeps(store.async_chats(), handler_settings(settings))
        )
        await application.initialize()
        sender = Sender(application.bot, store.outbox, store, Rendering(render), SETTINGS)
        return sender, asyncio.create_task(sender.run(poll=0.05)), application

    sender, task, application = await run_sender()
    # One message a second to a private chat: stop while the third piece waits its turn.
    await fake.wait_for(lambda: len(fake.texts(71)) == 2)

    def progress() -> int:
        [row] = [r for r in deliveries_for(store, new) if r["chat"] == "71"]
        return len(json.loads(row["message_ids"]))

    await until_async(lambda: progress() == 2)  # the answer for piece 2 is in, not only its request
    await sender.stop(grace=0)
    await task
    await application.shutdown()
    assert len(fake.texts(71)) == 2
    [row] = [r for r in await off_loop(deliveries_for, store, new) if r["chat"] == "71"]
    assert row["status"] == "pending" and len(json.loads(row["message_ids"])) == 2

    sender, task, application = await run_sender()
    try:
        await fake.wait_for(lambda: len(fake.texts(71)) == len(pieces), timeout=15)
        await settle(fake, store)
    finally:
        await sender.stop()
        await task
        await application.shutdown()
    assert fake.texts(71) == pieces  # each piece once, in order
    [row] = [r for r in await off_loop(deliveries_for, store, new) if r["chat"] == "71"]
    ids = [s.message_id for s in fake.sent if s.chat_id == 71]
    assert row["status"] == "sent" and json.loads(row["message_ids"]) == ids


# --------------------------------------------------------------------------- the whole daemon


class Daemon:
    """``python -m feedbot run`` against a fake Bot API in a thread, restarted at will
    (each run logs to its own file)."""

    def __init__(self, tmp_path: Path, fake: FakeBotAPI) -> None:
        self.tmp_path = tmp_path
        self.fake = fake
        self.runs: list[daemonkit.Daemon] = []

    @property
    def proc(self) -> subprocess.Popen[str] | None:
        return self.runs[-1].proc if self.runs else None

    def start(self) -> None:
        env = {
            "FEEDBOT_INDEX__PATH": str(self.tmp_path / "index"),
            "FEEDBOT_INDEX__SETTLE_MS": "50",
            "FEEDBOT_STORAGE__PATH": str(self.tmp_path / "feedbot.sqlite3"),
            "FEEDBOT_HTTP__PORT": "0",
            "FEEDBOT_LOG__LEVEL": "DEBUG",
            "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
            "FEEDBOT_TELEGRAM__API_BASE_URL": self.fake.base_url,
        }
        log = self.tmp_path / f"daemon-{len(self.runs)}.log"
        # a long poll is logged as it arrives (`calls`), not when it ends 20 s later
        polls = len(self.fake.calls("getUpdates"))
        run = daemonkit.Daemon(self.tmp_path, env, log=log)
        self.runs.append(run)
        until(
            self.running_and(lambda: len(self.fake.calls("getUpdates")) > polls),
            timeout=daemonkit.WAIT,
            what="the bot to poll",
            context=self.stderr,
        )

    def kill(self) -> None:
        self.runs[-1].kill()

    def stop(self) -> None:
        if self.runs and self.runs[-1].alive:
            try:
                assert self.runs[-1].stop(timeout=15)[0] == 0, self.stderr()
            except subprocess.TimeoutExpired:
                self.runs[-1].kill()
                raise

    def stderr(self) -> str:
        return "\n".join(r.log for r in self.runs)

    def tail(self) -> str:
        """The end of the logs, for a failed wait."""
        return self.stderr()[-3000:]

    def running_and(self, check: Callable[[], T]) -> Callable[[], T]:
        """``check`` for `until`, failing at once (with the logs) once the daemon has exited."""

        def checked() -> T:
            assert self.proc is not None and self.proc.poll() is None, self.stderr()
            return check()

        return checked


@pytest.mark.slow
def test_daemon_end_to_end_with_kill_9(tmp_path: Path) -> None:
    fake = FakeBotAPI(TOKEN).start_in_thread()
    index = tmp_path / "index"
    index.mkdir()
    from feedbot.articles.corpus import generate

    corpus = iter(generate(50, seed=3))

    def drop() -> str:
        name, data = next(corpus)
        tmp = index / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, index / name)
        return name.removesuffix(".txt")

    drop()  # baseline
    daemon = Daemon(tmp_path, fake)
    try:
        daemon.start()
        fake.command("/start", chat_id=501, language_code="en")
        until(
            daemon.running_and(lambda: len(fake.texts(501)) == 1),
            timeout=10,
            what="welcome",
            context=daemon.tail,
        )
        assert fake.texts(501)[0].startswith("Welcome")
        assert len(fake.texts(501)) == 1  # nothing for the baseline article
        first = drop()
        until(
            daemon.running_and(lambda: len(fake.texts(501)) == 2),
            timeout=10,
            what="the post",
            context=daemon.tail,
        )
        assert f"articles/{first}.html" in fake.texts(501)[1]

        # 300 more subscribers, then a broadcast that a kill -9 interrupts.
        store = Store.open(tmp_path / "feedbot.sqlite3")
        try:
            subscribe(store, *range(2000, 2300))
        finally:
            store.close()
        chats = [501, *range(2000, 2300)]
        second = drop()

        def delivered() -> int:
            return sum(1 for s in fake.sent if f"articles/{second}.html" in s.text)

        until(
            daemon.running_and(lambda: delivered() >= 100),
            timeout=30,
            what="100 posts",
            context=daemon.tail,
        )
        daemon.kill()
        at_kill = delivered()
        assert at_kill < len(chats), "the broadcast finished before the kill: nothing tested"
        daemon.start()
        until(
            daemon.running_and(lambda: delivered() >= len(chats)),
            timeout=60,
            what="every chat",
            context=daemon.tail,
        )
        store = Store.open(tmp_path / "feedbot.sqlite3")
        try:  # the ledger owes nothing: anything still to come would be a duplicate
            until(lambda: owed(store) == 0, timeout=30, what="nothing owed", context=daemon.tail)
        finally:
            store.close()
        copies = Counter(s.chat_id for s in fake.sent if f"articles/{second}.html" in s.text)
        assert sorted(copies) == chats
        duplicates = sum(n - 1 for n in copies.values())
        assert duplicates <= 64, duplicates  # at most the sends in flight at the kill
        daemon.stop()
    finally:
        daemon.stop()
        fake.stop_thread()
    logs = daemon.stderr()
    assert "DEBUG telegram.ext" in logs  # the capture really was at DEBUG, PTB included
    assert "Telegram bot @feedbot_test_bot is up" in logs
    assert TOKEN.split(":")[1] not in logs
