"""Corrections reach the chats: edits, grown and shrunk posts, withdrawals, the delay.

Through the real python-telegram-bot stack, our rate limiter and the fake Bot API
(which keeps the messages it really sent), on SQLite and PostgreSQL; articles reach
the store through the real `Indexer`, as in the daemon.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from feedbot.articles.model import Entry
from feedbot.articles.parse import parse
from feedbot.config import Settings
from feedbot.fakegram import FakeBotAPI
from feedbot.publish.feeds import article_url
from feedbot.store import Publishing, Store
from feedbot.telegram.assemble import build_service
from feedbot.telegram.render.messages import render_post
from feedbot.telegram.render.parse_html import parse_telegram_html
from feedbot.telegram.render.styles import render_styled
from feedbot.telegram.service import TelegramService
from tests.botkit import TOKEN, Index, make_settings
from tests.storekit import deliveries_for, off_loop
from tests.telegram.test_delivery import Daemon
from tests.waiting import until, until_async


def article_text(headline: str, sections: int = 0, date: str = "2026-11-20") -> str:
    """An English article: a lead paragraph and ``sections`` headed sections (20 make
    a post of two pieces)."""
    blocks = [
        f"date {date} {headline}",
        "The lead paragraph tells the story in a few plain words. It goes on a little longer.",
    ]
    for i in range(sections):
        blocks.append(f"Part {i} of the story")
        blocks.append(
            f"Item {i} is described here with enough words to make a long summary sentence "
            f"for the post. A second sentence about item {i} adds more words so the section "
            "summary is long enough to count."
        )
    return "\n\n".join(blocks) + "\n"


class Desk:
    """An index folder, the store and a running service against the fake Bot API."""

    def __init__(
        self, settings: Settings, index: Index, store: Store, svc: TelegramService
    ) -> None:
        self.settings, self.index, self.store, self.service = settings, index, store, svc
        self._seq = 0

    def pieces(self, name: str, text: str, language: str = "en") -> list[str]:
        """The post the service renders for ``text`` (as it would be sent)."""
        article = parse(f"{name}.txt", text.encode())
        url = article_url(self.settings.feed, name)
        return render_post(article, url=url, language=language)

    async def publish(self, text: str) -> str:
        """Write a new article file, scan, wake the sender: its id."""
        self._seq += 1
        name = f"{500 + self._seq:03d}_{self._seq:016x}"
        await self.save(name, text)
        return name

    async def save(self, name: str, text: str) -> None:
        """Write (or rewrite) an article file atomically, scan, wake the service."""
        path = self.index.folder / f"{name}.txt"
        tmp = self.index.folder / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, path)
        report = await off_loop(self.index.indexer.scan)
        self.service.wake((*report.changed, *report.removed))

    async def remove(self, name: str) -> None:
        (self.index.folder / f"{name}.txt").unlink()
        report = await off_loop(self.index.indexer.scan)
        self.service.wake(report.removed)

    async def sent(self, name: str, timeout: float = 30.0) -> None:
        """Wait until every delivery of ``name`` is sent."""

        def done() -> bool:
            rows = deliveries_for(self.store, name)
            return bool(rows) and all(r["status"] == "sent" for r in rows)

        await until_async(done, timeout=timeout)

    async def corrected(self, name: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until no correction of ``name`` is owed; its edit rows."""

        def done() -> bool:
            rows = self.store.edits.rows(name)
            return bool(rows) and all(r["status"] in ("done", "failed") for r in rows)

        await until_async(done, timeout=timeout)
        return await off_loop(self.store.edits.rows, name)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(TOKEN) as server:
        yield server


@pytest.fixture
def desk_for(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path
) -> Callable[..., Any]:
    @asynccontextmanager
    async def make(chats: int = 3, **telegram: Any) -> AsyncIterator[Desk]:
        settings = make_settings(tmp_path, fake.base_url, storage_url=database_url, **telegram)
        tg = settings.telegram
        policy = Publishing(tg.on_edit, tg.on_remove, timedelta(seconds=tg.delay))
        index = await off_loop(Index, tmp_path / "index", store, publishing=policy)
        for chat in range(1, chats + 1):
            await off_loop(store.chats.subscribe, str(chat), kind="private", title=None)
        (index.folder / "001_0000000000000001.txt").write_text(article_text("Baseline"))
        await off_loop(index.indexer.scan)  # the baseline: nothing is broadcast
        svc = build_service(settings, store)
        await svc.start()
        await svc.lead()
        try:
            yield Desk(settings, index, store, svc)
        finally:
            await svc.stop()

    return make


def shown(html_pieces: list[str]) -> list[str]:
    """The texts Telegram shows for some HTML messages."""
    return [parse_telegram_html(p)[0] for p in html_pieces]


def headline_shown(fake: FakeBotAPI, chat: int) -> list[str]:
    """The first line of every message a chat shows now."""
    return [t.split("\n")[0] for t in fake.shown(chat).values()]


async def test_an_edit_after_a_300_chat_broadcast_edits_each_message_once(
    desk_for: Callable[..., Any], fake: FakeBotAPI
) -> None:
    async with desk_for(chats=300) as desk:
        name = await desk.publish(article_text("Mayor opens the brigde"))
        await desk.sent(name, timeout=60)
        await desk.save(name, article_text("Mayor opens the bridge"))
        rows = await desk.corrected(name, timeout=60)
    assert len(rows) == 300 and {r["status"] for r in rows} == {"done"}
    edits = Counter(s.chat_id for s in fake.done("editmessagetext"))
    assert set(edits) == set(range(1, 301)) and set(edits.values()) == {1}
    assert all(headline_shown(fake, chat) == ["Mayor opens the bridge"] for chat in (1, 150, 300))
    assert fake.count_429 == 0


async def test_five_saves_in_a_burst_make_one_edit_per_message_with_the_last_version(
    desk_for: Callable[..., Any], fake: FakeBotAPI
) -> None:
    async with desk_for(chats=4) as desk:
        name = await desk.publish(article_text("Version 0"))
        await desk.sent(name)
        for version in range(1, 6):
            await desk.save(name, article_text(f"Version {version}"))
            time.sleep(0.1)  # an editor saving again and again (the loop is not needed)
        await desk.corrected(name)
    edits = [s for s in fake.done("editmessagetext")]
    assert Counter(s.chat_id for s in edits) == {1: 1, 2: 1, 3: 1, 4: 1}
    assert all(headline_shown(fake, chat) == ["Version 5"] for chat in (1, 2, 3, 4))


async def test_a_post_that_grows_gets_a_reply_and_one_that_shrinks_loses_it(
    desk_for: Callable[..., Any], fake: FakeBotAPI, store: Store
) -> None:
    short, long = article_text("Budget", 1), article_text("Budget", 20)
    async with desk_for(chats=2) as desk:
        name = await desk.publish(short)
        await desk.sent(name)
        [first] = fake.shown(1)
        await desk.save(name, long)
        await desk.corrected(name)
        grown = desk.pieces(name, long)
        assert len(grown) == 2
        assert list(fake.shown(1).values()) == shown(grown)  # the first edited, one more
        [reply] = [s for s in fake.sent if s.chat_id == 1 and s.message_id != first]
        assert reply.params["reply_parameters"]["message_id"] == first
        rows = await off_loop(deliveries_for, store, name)
        assert all(len(json.loads(r["message_ids"])) == 2 for r in rows)

        await desk.save(name, short)
        await desk.corrected(name)
        assert list(fake.shown(1).values()) == shown(desk.pieces(name, short))  # one less
    deleted = [s.message_id for s in fake.done("deletemessage") if s.chat_id == 1]
    assert deleted == [reply.message_id]


async def test_a_removed_article_is_kept_where_on_remove_says_keep(
    desk_for: Callable[..., Any], fake: FakeBotAPI, store: Store
) -> None:
    async with desk_for(chats=2, on_remove="keep") as desk:
        name = await desk.publish(article_text("Old story"))
        await desk.sent(name)
        before = {chat: fake.shown(chat) for chat in (1, 2)}
        await desk.remove(name)
        assert await off_loop(store.edits.rows, name) == []  # nothing is owed
    assert {chat: fake.shown(chat) for chat in (1, 2)} == before
    assert not fake.done("editmessagetext") and not fake.done("deletemessage")


@pytest.mark.parametrize("policy", ["mark", "delete"])
@pytest.mark.parametrize("age_hours", [0, 49])
async def test_a_removed_article_is_marked_or_deleted(
    desk_for: Callable[..., Any], fake: FakeBotAPI, store: Store, policy: str, age_hours: int
) -> None:
    """``mark``: the first piece shows the struck-through headline and "withdrawn" in the
    chat's language, the surplus piece is deleted (past 48 h: "(see above)"). ``delete``:
    every piece is deleted (past 48 h, Telegram refuses: marked instead)."""
    async with desk_for(chats=2, on_remove=policy) as desk:
        await off_loop(store.chats.set_chat_language, "2", "it")
        name = await desk.publish(article_text("Wrong story", 20))  # two pieces
        await desk.sent(name)
        first, second = fake.shown(1)
        fake.wall_clock = lambda: time.time() + age_hours * 3600
        await desk.remove(name)
        rows = await desk.corrected(name)
    assert {r["status"] for r in rows} == {"done"}
    if policy == "delete" and age_hours == 0:
        assert fake.shown(1) == fake.shown(2) == {}
        assert len(fake.done("deletemessage")) == 4 and not fake.done("editmessagetext")
        return
    if age_hours == 0:
        assert fake.shown(1) == {first: "Wrong story\nwithdrawn"}
        assert list(fake.shown(2).values()) == ["Wrong story\nritirato"]
    else:
        assert fake.shown(1) == {first: "Wrong story\nwithdrawn", second: "(see above)"}
        assert list(fake.shown(2).values()) == ["Wrong story\nritirato", "(vedi sopra)"]
        refused = [a for a in fake.attempts if a.method == "deletemessage"]
        assert refused and {a.description for a in refused} == {
            "Bad Request: message can't be deleted"
        }
    mark = next(s for s in fake.done("editmessagetext") if s.chat_id == 1 and s.message_id == first)
    assert mark.text == "<s><b>Wrong story</b></s>\n<i>withdrawn</i>"


async def test_a_message_deleted_by_someone_else_is_a_recorded_outcome(
    desk_for: Callable[..., Any], fake: FakeBotAPI, store: Store
) -> None:
    """ "message to edit not found" ends that correction (recorded); the other chats are
    edited; a save that leaves the post as it is edits nothing."""
    async with desk_for(chats=2) as desk:
        name = await desk.publish(article_text("Typo in teh headline"))
        await desk.sent(name)
        [gone] = fake.shown(1)
        fake.delete(1, gone)  # an admin deleted the post in chat 1
        await desk.save(name, article_text("Typo in the headline"))
        rows = {r["chat"]: r for r in await desk.corrected(name)}
        assert rows["1"]["status"] == "failed" and rows["2"]["status"] == "done"
        assert rows["1"]["error"] == "message to edit not found"
        assert headline_shown(fake, 2) == ["Typo in the headline"]
        edits = len(fake.done("editmessagetext"))
        # the same post again (a touched file, a change the post does not show): no request
        await desk.save(name, article_text("Typo in the headline") + "\n")
        rows = {r["chat"]: r for r in await desk.corrected(name)}
    assert rows["2"]["status"] == "done" and len(fake.done("editmessagetext")) == edits
    assert not [a for a in fake.attempts if "not modified" in a.description]


async def test_edits_keep_the_unpaid_rate_with_paid_broadcasts(
    desk_for: Callable[..., Any], fake: FakeBotAPI
) -> None:
    """Telegram sells no paid edits: 90 edits go at 30/s (the fake answers 429 to an
    unpaid 31st in a second) while the sends went at the paid rate."""
    async with desk_for(chats=90, paid_broadcast=True) as desk:
        name = await desk.publish(article_text("Paid"))
        await desk.sent(name)
        await desk.save(name, article_text("Paid, corrected"))
        await desk.corrected(name, timeout=60)
    posts = [s for s in fake.sent if s.text.startswith("<b>Paid")]
    sends = sorted(s.time for s in posts)
    edits = sorted(s.time for s in fake.done("editmessagetext"))
    assert len(sends) == len(edits) == 90 and fake.count_429 == 0
    # The sends were paid, so the fake let them past 30/s; the sender did not hold them to
    # 30/s either (more than 30 in one second: no wall-clock bound, which load would break).
    assert all(s.params.get("allow_paid_broadcast") in (True, "true") for s in posts)
    assert max(sum(1 for t in sends if start <= t < start + 1.0) for start in sends) > 30
    assert max(sum(1 for t in edits if start <= t < start + 1.0) for start in edits) <= 30
    assert edits[-1] - edits[0] >= 2.0  # 90 at 30/s


async def test_an_edit_inside_the_delay_changes_what_is_sent(
    desk_for: Callable[..., Any], fake: FakeBotAPI, store: Store
) -> None:
    async with desk_for(chats=3, delay=2.0) as desk:
        name = await desk.publish(article_text("Draft headline"))
        await desk.save(name, article_text("Final headline"))
        assert all(r["status"] == "pending" for r in await off_loop(deliveries_for, store, name))
        await desk.sent(name)
        await desk.corrected(name)  # owed while pending: resolved without a request
    assert [headline_shown(fake, chat) for chat in (1, 2, 3)] == [["Final headline"]] * 3
    assert len(fake.sent) == 3 and not fake.done("editmessagetext")


@pytest.mark.slow
def test_kill_9_in_the_middle_of_edits_leaves_every_message_with_the_last_version(
    tmp_path: Path,
) -> None:
    """200 chats get a post; a correction is under way when the daemon is killed; the file
    is saved once more while it is down. After the restart every message shows the last
    version, and no chat got a second post."""
    fake = FakeBotAPI(TOKEN).start_in_thread()
    index = tmp_path / "index"
    index.mkdir()
    name = "500_0000000000000001"

    def save(text: str) -> None:
        tmp = index / f".{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, index / f"{name}.txt")

    (index / "001_0000000000000001.txt").write_text(article_text("Baseline"))
    daemon = Daemon(tmp_path, fake)
    chats = list(range(2000, 2200))
    try:
        daemon.start()
        store = Store.open(tmp_path / "feedbot.sqlite3")
        try:
            for chat in chats:
                store.chats.subscribe(str(chat), kind="private", title=None)
        finally:
            store.close()
        save(article_text("Version one"))
        until(
            daemon.running_and(lambda: len(fake.sent) >= len(chats)),
            timeout=60,
            what="the broadcast",
            context=daemon.tail,
        )
        save(article_text("Version two"))
        until(
            daemon.running_and(lambda: len(fake.done("editmessagetext")) >= 50),
            timeout=60,
            what="50 edits",
            context=daemon.tail,
        )
        daemon.kill()
        assert len(fake.done("editmessagetext")) < len(chats), "finished before the kill"
        save(article_text("Version three"))
        daemon.start()

        def last_everywhere() -> bool:
            return all(headline_shown(fake, chat) == ["Version three"] for chat in chats)

        until(
            daemon.running_and(last_everywhere),
            timeout=60,
            what="the last version in every chat",
            context=daemon.tail,
        )
        daemon.stop()
    finally:
        daemon.stop()
        fake.stop_thread()
    assert Counter(s.chat_id for s in fake.sent) == Counter(chats)  # one post each
    assert fake.count_429 == 0


async def test_a_topic_subscription_is_corrected_in_its_own_style_inside_its_topic(
    desk_for: Callable[..., Any], fake: FakeBotAPI
) -> None:
    """Subscriptions meet corrections: an edit renders the topic's style as it is when
    the edit is made, and a piece added to a grown post goes into the same forum topic."""
    forum, topic = -1001234, 7
    fake.add_forum(forum)
    fake.add_topic(forum, topic)

    def compact(name: str, text: str) -> list[str]:
        entry = Entry.of(parse(f"{name}.txt", text.encode()))
        url = article_url(desk.settings.feed, name)
        return render_styled(entry, url=url, language="en", style="compact")

    async with desk_for(chats=0) as desk:
        chat = str(forum)
        await off_loop(desk.store.chats.subscribe, chat, kind="supergroup", title=None)
        await off_loop(desk.store.chats.unsubscribe, chat)  # the General topic: not subscribed
        await off_loop(
            desk.store.chats.subscribe, chat, kind="supergroup", title=None, thread_id=topic
        )
        await off_loop(desk.store.subscriptions.update, chat, topic, None, style="compact")
        first = article_text("Compact news", sections=2)
        name = await desk.publish(first)
        await desk.sent(name)
        [post] = fake.sent
        assert post.params["message_thread_id"] == topic
        assert list(fake.shown(forum).values()) == shown(compact(name, first))

        fixed = article_text("Compact news, corrected", sections=2)
        await desk.save(name, fixed)
        await desk.corrected(name)
        assert list(fake.shown(forum).values()) == shown(compact(name, fixed))

        # the topic switches to the full post; the next correction needs two messages
        await off_loop(desk.store.subscriptions.update, chat, topic, None, style="full")
        grown = article_text("Compact news, grown", sections=40)
        await desk.save(name, grown)
        [row] = await desk.corrected(name)
        assert row["status"] == "done"
        want = desk.pieces(name, grown)
        assert len(want) > 1 and len(compact(name, grown)) == 1
        assert list(fake.shown(forum).values()) == shown(want)
    added = [s for s in fake.done("sendmessage") if s.message_id != post.message_id]
    assert added and all(s.params["message_thread_id"] == topic for s in added)
