"""Digests: scheduled in the chat's timezone across both daylight-saving changes (Europe/
Rome, injected clock), sent late but once after downtime, fenced like every ledger
write, and delivered through the bot and the fake Bot API without a second copy after
a restart — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from feedbot.errors import FencedError
from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from feedbot.store.schema import deliveries
from feedbot.telegram.assemble import build_service
from feedbot.telegram.chat.settings_view import Context, digest_values, timezone_values
from feedbot.telegram.send.digests import next_slot
from feedbot.telegram.service import TelegramService
from tests.botkit import assert_token_absent, make_settings, plain
from tests.sitekit import article
from tests.storekit import add, off_loop
from tests.telegram import test_bot
from tests.telegram.test_subscriptions import Clock

fake = test_bot.fake

CHAT = "501"


def digest_rows(store: Store) -> list[dict[str, object]]:
    query = select(deliveries).where(deliveries.c.kind.like("digest:%")).order_by(deliveries.c.id)
    with store.db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def subscribe_digest(store: Store, schedule: str, now: datetime, zone: str = "Europe/Rome") -> None:
    """A chat in digest mode, set up the way /timezone and /digest set it."""
    store.chats.subscribe(CHAT, kind="private", title=None, now=now)
    sub = store.subscriptions.get(CHAT)
    assert sub is not None
    sub = store.subscriptions.update(
        CHAT, 0, None, **timezone_values(zone, Context(sub, now, "UTC"))
    )
    assert sub is not None
    store.subscriptions.update(CHAT, 0, None, **digest_values(schedule, Context(sub, now, "UTC")))


def run_clock(store: Store, start: datetime, end: datetime, step: timedelta) -> None:
    """The job ticking from ``start`` to ``end``; one new article every six hours."""
    digests = store.digests
    slot = next_slot("UTC")
    now, n = start, 0
    while now <= end:
        if now.minute == 0 and now.hour % 6 == 0:
            n += 1
            add(store, article(1000 + n + int(start.timestamp()) % 1000), now)
        digests.queue_due(now, slot)
        now += step


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # spring forward, 29 March 2026: 02:30 does not exist that night → 03:00 CEST
        (
            datetime(2026, 3, 27, 12, tzinfo=UTC),
            ["2026-03-28T01:30", "2026-03-29T01:00", "2026-03-30T00:30", "2026-03-31T00:30"],
        ),
        # fall back, 25 October 2026: 02:30 happens twice → once, at the first
        (
            datetime(2026, 10, 23, 12, tzinfo=UTC),
            ["2026-10-24T00:30", "2026-10-25T00:30", "2026-10-26T01:30", "2026-10-27T01:30"],
        ),
    ],
)
def test_a_digest_a_day_across_the_dst_changes(
    store: Store, start: datetime, expected: list[str]
) -> None:
    subscribe_digest(store, "daily 02:30", start)
    run_clock(store, start, start + timedelta(days=4), timedelta(minutes=10))
    rows = digest_rows(store)
    slots = [str(r["kind"]).removeprefix("digest:")[:16] for r in rows]
    assert slots == expected  # none skipped, none doubled
    created = [r["created_at"] for r in rows]
    for slot_text, at in zip(expected, created, strict=True):
        slot = datetime.fromisoformat(slot_text + ":00+00:00")
        assert slot <= at < slot + timedelta(minutes=10)  # on time (one tick at most)
    # each digest lists what arrived since the previous one, newest first, no overlap
    listed = [json.loads(str(r["payload"])) for r in rows]
    flat = [i for ids in listed for i in ids]
    assert len(flat) == len(set(flat)) and all(len(ids) == 4 for ids in listed[1:])
    assert all(ids == sorted(ids, reverse=True) for ids in listed)
    # digest subscriptions get no per-article posts
    with store.db.read() as conn:
        kinds = {r.kind for r in conn.execute(select(deliveries.c.kind))}
    assert kinds == {r["kind"] for r in rows}


def test_a_digest_missed_while_down_is_sent_late_once(store: Store) -> None:
    start = datetime(2026, 1, 10, 12, tzinfo=UTC)
    subscribe_digest(store, "daily 08:00", start)
    add(store, article(7), start + timedelta(hours=1))
    digests = store.digests
    back = start + timedelta(days=3, hours=5)  # down for three scheduled times
    assert digests.queue_due(back, next_slot("UTC")) == 1
    assert digests.queue_due(back, next_slot("UTC")) == 0  # the job runs again: nothing
    [row] = digest_rows(store)
    assert row["kind"] == "digest:2026-01-11T07:00:00+00:00"  # the first missed slot
    sub = store.subscriptions.get(CHAT)
    assert sub is not None and sub.next_digest_at == datetime(2026, 1, 14, 7, tzinfo=UTC)
    # nothing new since: the next slot passes without a digest
    assert digests.queue_due(datetime(2026, 1, 14, 7, 1, tzinfo=UTC), next_slot("UTC")) == 0
    assert len(digest_rows(store)) == 1


def test_digest_writes_are_fenced(store: Store) -> None:
    start = datetime(2026, 1, 10, 12, tzinfo=UTC)
    subscribe_digest(store, "daily 08:00", start)
    add(store, article(8), start + timedelta(hours=1))
    store.fence.arm()  # replicas: this one does not hold the lease
    digests = store.digests
    with pytest.raises(FencedError):
        digests.queue_due(start + timedelta(days=1), next_slot("UTC"))
    assert digest_rows(store) == []
    sub = store.subscriptions.get(CHAT)
    assert sub is not None and sub.next_digest_at == datetime(2026, 1, 11, 7, tzinfo=UTC)


async def _service(
    settings_path: Path, fake: FakeBotAPI, store: Store, url: str, clock: Clock
) -> TelegramService:
    settings = make_settings(settings_path, fake.base_url, storage_url=url)
    service = build_service(settings, store, clock=clock)
    await service.start()
    await service.lead()
    return service


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 1, 10, 12, tzinfo=UTC))


@pytest.fixture
async def service(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path, clock: Clock
) -> AsyncIterator[TelegramService]:
    service = await _service(tmp_path, fake, store, database_url, clock)
    try:
        yield service
    finally:
        await service.stop()


async def test_a_digest_through_the_bot_and_no_second_copy_after_a_restart(
    database_url: str,
    fake: FakeBotAPI,
    store: Store,
    tmp_path: Path,
    clock: Clock,
    service: TelegramService,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    user = int(CHAT)
    fake.command("/start", chat_id=user, language_code="it")
    await fake.wait_for(lambda: len(fake.texts(user)) == 1)
    fake.command("/timezone Europe/Rome", chat_id=user, language_code="it")
    await fake.wait_for(lambda: len(fake.texts(user)) == 2)
    fake.command("/digest daily 08:00", chat_id=user, language_code="it")
    await fake.wait_for(lambda: len(fake.texts(user)) == 3)
    assert "riepilogo, daily 08:00" in fake.texts(user)[-1]
    older, newer = article(21, headline="Prima notizia"), article(22, headline="Seconda notizia")
    for i, new in enumerate((older, newer)):
        assert await off_loop(add, store, new, clock.now + timedelta(minutes=i + 1))
    clock.now = datetime(2026, 1, 11, 7, 0, 30, tzinfo=UTC)  # 08:00:30 in Rome
    assert await service.digests.tick() == 1
    await fake.wait_for(lambda: len(fake.texts(user)) == 4)
    digest = plain([fake.texts(user)[-1]])
    assert digest.startswith("Riepilogo: 2 nuovi articoli")
    assert digest.index("Seconda notizia") < digest.index("Prima notizia")  # newest first
    assert "Summary of article 22." in digest  # the lead's first sentence
    await service.stop()

    again = await _service(tmp_path, fake, store, database_url, clock)
    try:
        assert await again.digests.tick() == 0
        [row] = await off_loop(digest_rows, store)
        assert row["status"] == "sent"
        assert len(fake.texts(user)) == 4  # no second copy
    finally:
        await again.stop()
    assert_token_absent(caplog.records, caplog.handler.formatter or logging.Formatter())
