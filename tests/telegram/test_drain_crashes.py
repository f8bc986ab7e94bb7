"""A sender or editor that meets something it cannot handle: the row is recorded for a
retry (then failed), never left claimed; a crash of the drain itself is logged, shown in
``/healthz`` (503) and the drain restarted, after which it picks its rows up again.

The triggers are real inputs rather than hooks into our code: a damaged database row,
as a hand edit, a half-restored backup or a downgrade can leave one. An article whose
stored body is not JSON makes one send (or correction) fail; a delivery whose
``message_ids`` is not JSON makes every claim of the ledger fail until it is repaired.
Through the real python-telegram-bot stack against the Bot API emulator, and a real
``feedbot run`` for ``/healthz``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from feedbot.store.schema import articles, deliveries
from tests import daemonkit
from tests.botkit import TOKEN
from tests.storekit import deliveries_for, off_loop
from tests.telegram.test_editing import article_text, desk_for, fake  # noqa: F401 (fixtures)
from tests.waiting import until, until_async


def damage(store: Store, table: Any, where: Any, **values: str) -> None:
    """Overwrite columns of some rows, as a hand edit of the database would."""
    with store.db.write() as conn:
        conn.execute(update(table).where(where).values(**values))


async def test_a_send_that_raises_is_retried_then_failed_never_left_claimed(
    desk_for: Callable[..., Any],  # noqa: F811
    fake: FakeBotAPI,  # noqa: F811
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with desk_for(chats=2, delay=2, max_attempts=2) as desk:
        name = await desk.publish(article_text("Stored damaged"))
        await off_loop(damage, store, articles, articles.c.id == name, body="{not json")
        later = await desk.publish(article_text("Stored fine"))

        def settled() -> bool:
            rows = deliveries_for(store, name) + deliveries_for(store, later)
            return len(rows) == 4 and all(r["status"] in ("sent", "failed") for r in rows)

        await until_async(settled, timeout=30)
        rows = await off_loop(deliveries_for, store, name)
        assert [(r["status"], r["attempts"]) for r in rows] == [("failed", 2)] * 2
        assert all(r["error"].startswith("JSONDecodeError") for r in rows)
        assert {r["status"] for r in await off_loop(deliveries_for, store, later)} == {"sent"}
        assert desk.service.down() is None  # one row's bug is not a crashed sender
    assert len(fake.sent) == 2 and all("Stored fine" in s.text for s in fake.sent)
    bugs = [r for r in caplog.records if r.getMessage().startswith("BUG: sending post")]
    assert len(bugs) == 4 and {r.levelno for r in bugs} == {logging.ERROR}
    assert not [r for r in caplog.records if "task crashed" in r.getMessage()]


async def test_a_crashed_editor_is_shown_restarted_and_finishes_once_the_row_is_repaired(
    desk_for: Callable[..., Any],  # noqa: F811
    fake: FakeBotAPI,  # noqa: F811
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with desk_for(chats=1) as desk:
        name = await desk.publish(article_text("Before"))
        await desk.sent(name)
        [row] = await off_loop(deliveries_for, store, name)
        await desk.save(name, article_text("After"))  # the edit waits two quiet seconds
        where = deliveries.c.id == row["id"]
        await off_loop(damage, store, deliveries, where, message_ids="[oops")
        await until_async(
            lambda: [e["status"] for e in store.edits.rows(name)] == ["sending"], timeout=15
        )
        await until_async(lambda: desk.service.down() is not None, timeout=5)  # claimed, crashed
        assert desk.service.down() == "telegram editor (JSONDecodeError) crashed, restarting"
        assert desk.service.health()["telegram"]["down"] == desk.service.down()
        await off_loop(damage, store, deliveries, where, message_ids=row["message_ids"])
        edits = await desk.corrected(name)
        assert [e["status"] for e in edits] == ["done"]
        await until_async(lambda: desk.service.down() is None, timeout=5)
    [edit] = fake.done("editmessagetext")
    assert edit.text.startswith("<b>After</b>")
    crashes = [r for r in caplog.records if "editor task crashed" in r.getMessage()]
    assert crashes and crashes[0].levelno == logging.ERROR and crashes[0].exc_info


@pytest.mark.slow
def test_a_crashed_sender_turns_healthz_503_and_restarts_until_it_sends(tmp_path: Path) -> None:
    api = FakeBotAPI(TOKEN).start_in_thread()
    index = tmp_path / "index"
    index.mkdir()
    (index / "001_0000000000000001.txt").write_text(article_text("Baseline"))
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_INDEX__SETTLE_MS": "50",
        "FEEDBOT_STORAGE__PATH": str(tmp_path / "feedbot.sqlite3"),
        "FEEDBOT_HTTP__PORT": "0",
        "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
        "FEEDBOT_TELEGRAM__API_BASE_URL": api.base_url,
        "FEEDBOT_TELEGRAM__DELAY": "3",  # time to damage the row before it is claimed
    }
    daemon = daemonkit.Daemon(tmp_path, env)
    news = "002_0000000000000002"
    store: Store | None = None
    try:
        url = daemon.wait_started(timeout=30)
        api.command("/start", chat_id=501, language_code="en")
        until(lambda: len(api.texts(501)) == 1, timeout=15, what="the welcome")
        (index / f"{news}.txt").write_text(article_text("The news"))
        store = Store.open(tmp_path / "feedbot.sqlite3")
        row = deliveries.c.article_id == news
        until(lambda: deliveries_for(store, news), what="the delivery row")
        damage(store, deliveries, row, message_ids="[oops")

        def health() -> tuple[int, dict[str, Any]]:
            assert daemon.alive, daemon.log
            r = httpx.get(url + "healthz", timeout=5)
            return r.status_code, r.json()

        until(lambda: health()[0] == 503, timeout=15, what="/healthz 503")
        assert health()[1]["status"] == "telegram sender (JSONDecodeError) crashed, restarting"
        damage(store, deliveries, row, message_ids="[]")  # repaired: the restarted sender sends
        until(lambda: len(api.texts(501)) == 2, timeout=30, what="the post")
        until(lambda: health()[0] == 200, what="/healthz 200")
        [sent] = deliveries_for(store, news)
        assert sent["status"] == "sent" and json.loads(sent["message_ids"])
        assert api.texts(501)[1].startswith("<b>The news</b>")
        assert daemon.stop()[0] == 0
    finally:
        if store is not None:
            store.close()
        daemon.kill()
        api.stop_thread()
    log = daemon.log
    assert "sender task crashed (JSONDecodeError" in log and "Traceback" in log
    assert TOKEN.split(":")[1] not in log
