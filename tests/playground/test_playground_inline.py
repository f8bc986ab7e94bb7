"""Inline mode in the playground: ``@bot words`` in the composer asks the real bot through
the emulator, the page gets the results as plain JSON, and choosing one sends it into the
chat as the user, via the bot — with the attacker's inputs answered by a clear 4xx.

The page's API is driven through feedbot's real web app; the bot is the production one,
over real HTTP to the emulator (the harness of tests/playground/test_playground.py).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedbot.fakegram import FakeLimits
from feedbot.playground.inline import MAX_WAITING, shown_result
from feedbot.playground.observed import ObservedBotAPI
from feedbot.playground.service import USER_ID
from tests.playground.test_playground import CHANNEL, FORUM, GROUP, Harness, harness
from tests.waiting import until_async

__all__ = ["harness"]

BOT = "feedbot_playground_bot"


def article(n: int) -> str:
    return (
        f"date 2026-11-{n:02d} Rivers <b>rise</b> {n} & more\n\n"
        f"The rivers rose for day {n}. Then it rained again.\n"
    )


async def publish(h: Harness, count: int) -> None:
    """``count`` articles about rivers, stored by one scan of the daemon."""
    for n in range(1, count + 1):
        (h.settings.index.path / f"{n:03d}_aaaabbbbcccc{n:04d}.txt").write_text(
            article(n), encoding="utf-8"
        )
    assert await h.daemon.scan("watch") is not None


async def ask(h: Harness, query: str, **body: Any) -> dict[str, Any]:
    r = await h.post("inline", {"chat": GROUP, "query": query, **body})
    assert r.status_code == 200, r.text
    return dict(r.json())


def emulator(h: Harness) -> ObservedBotAPI:
    assert h.pg.emulator is not None
    return h.pg.emulator


async def test_results_pages_and_a_choice_sent_via_the_bot(harness: Harness) -> None:
    await publish(harness, 12)
    updates: list[dict[str, Any]] = []

    def heard(method: str, params: Any, result: Any, status: int, text: str) -> None:
        if method == "getupdates":
            updates.extend(result or [])

    emulator(harness).add_observer(heard)
    first = await ask(harness, "rivers")
    assert (
        first["bot"] == BOT
        and len(first["results"]) == 10
        and first["next_offset"].startswith("10.")
    )  # the next page, tied to its query
    top = first["results"][0]
    assert top["title"] == "Rivers <b>rise</b> 12 & more"  # plain text, as the bot gave it
    assert top["description"].endswith("The rivers rose for day 12.") and top["sendable"]
    more = await ask(harness, "rivers", offset=first["next_offset"])
    titles = [r["title"] for r in more["results"]]
    assert titles == ["Rivers <b>rise</b> 2 & more", "Rivers <b>rise</b> 1 & more"]
    assert more["next_offset"] == ""
    newest = await ask(harness, "")  # "@bot " and nothing more: the newest articles
    assert newest["results"][0]["id"] == top["id"] and len(newest["results"]) == 10

    r = await harness.post("choose", {"query": first["query"], "result": top["id"]})
    assert r.status_code == 200, r.text
    sent = r.json()["message"]
    assert (sent["from"], sent["via"], sent["chat"]) == ("user", BOT, GROUP)
    assert sent["text"].startswith("Rivers <b>rise</b> 12 & more\n")
    assert sent["entities"][0] == {"type": "bold", "offset": 0, "length": 28}
    assert [m["id"] for m in await harness.messages(GROUP)] == [sent["id"]]
    [via] = emulator(harness).via_bot(GROUP)
    assert via["from"]["id"] == USER_ID and via["via_bot"]["username"] == BOT
    assert [s for s in emulator(harness).sent if s.chat_id == GROUP] == []  # the user did
    chosen = await until_async(
        lambda: [u["chosen_inline_result"] for u in updates if "chosen_inline_result" in u]
    )
    assert chosen == [{"result_id": top["id"], "from": via["from"], "query": "rivers"}]


async def test_a_choice_in_a_forum_topic_stays_in_it(harness: Harness) -> None:
    await publish(harness, 1)
    found = await ask(harness, "rivers", chat=FORUM, thread=3)
    r = await harness.post("choose", {"query": found["query"], "result": found["results"][0]["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["message"]["thread"] == 3
    assert [m["via"] for m in await harness.messages(FORUM, 3)] == [BOT]
    assert await harness.messages(FORUM) == []


async def test_without_inline_mode_the_page_is_told_and_nothing_is_asked(
    harness: Harness,
) -> None:
    emulator(harness).set_inline(False)  # @BotFather /setinline turned off
    found = await ask(harness, "rivers")
    assert found["results"] == [] and found["query"] is None
    assert "/setinline" in found["note"] and BOT in found["note"]
    assert emulator(harness).calls("answerInlineQuery") == []


async def test_a_silent_bot_and_a_refused_answer_are_told(harness: Harness) -> None:
    fake = emulator(harness)
    fake.limits = FakeLimits(inline_answer_timeout=0.0)  # every answer comes too late
    late = await ask(harness, "rivers")
    assert late["results"] == [] and "query is too old" in late["note"]
    fake.delays["answerinlinequery"] = 1.5  # still answering when the page stops waiting
    silent = await ask(harness, "rivers")
    assert silent["results"] == [] and "did not answer within 0 s" in silent["note"]


async def test_too_many_waiting_queries_are_a_429(harness: Harness) -> None:
    fake = emulator(harness)
    fake.limits = FakeLimits(inline_answer_timeout=0.2)
    fake.delays["answerinlinequery"] = 1.0  # the bot answers one query at a time
    body = {"chat": GROUP, "query": "x"}
    waiting = [asyncio.ensure_future(harness.post("inline", body)) for _ in range(MAX_WAITING)]
    await until_async(lambda: harness.pg.inline.waiting == MAX_WAITING)
    r = await harness.post("inline", body)
    assert r.status_code == 429 and "too many" in r.json()["error"], r.text
    fake.delays.clear()
    assert [w.status_code for w in await asyncio.gather(*waiting)] == [200] * MAX_WAITING
    assert harness.pg.inline.waiting == 0


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"chat": GROUP, "query": "x" * 1024 * 1024}, 413, "Content Too Large"),  # 1 MB
        ({"chat": GROUP, "query": "é" * 257}, 400, "at most 256 characters"),
        ({"chat": GROUP, "query": 5}, 400, "query must be a string"),
        ({"chat": GROUP, "query": "x", "offset": "1" * 65}, 400, "offset is longer"),
        ({"chat": CHANNEL, "query": "x"}, 400, "only the bot posts"),
        ({"chat": FORUM, "thread": 99, "query": "x"}, 400, "no such topic"),
        ({"chat": 12345, "query": "x"}, 400, "no such chat"),
        ({"chat": GROUP, "query": "x", "language": "xx"}, 400, "language must be"),
    ],
)
async def test_bad_queries_are_a_4xx(
    harness: Harness, body: dict[str, Any], status: int, error: str
) -> None:
    r = await harness.post("inline", body)
    assert r.status_code == status and error in r.text, r.text  # 413: the server's own answer


async def test_markup_in_a_query_is_only_words(harness: Harness) -> None:
    await publish(harness, 1)
    for query in ("<b>rivers</b> & <script>x</script>", 'NEAR(rivers "', "\u202erivers\u200b"):
        found = await ask(harness, query)  # the bot answered (with what it found)
        assert found["query"] is not None and "note" not in found, found


async def test_forged_and_foreign_choices_are_a_400(harness: Harness) -> None:
    await publish(harness, 2)
    found = await ask(harness, "rivers")
    ok = found["results"][0]["id"]

    async def choose(query: Any, result: Any) -> httpx.Response:
        return await harness.post("choose", {"query": query, "result": result})

    fake = emulator(harness)
    theirs = fake.inline_query("rivers", user_id=5, chat_id=GROUP)  # another user's query
    await until_async(lambda: fake.inline_answer(theirs) is not None)
    refusals = [
        (await choose(found["query"], "forged"), "no such result"),
        (await choose(found["query"], "x" * 65), "longer than 64 bytes"),
        (await choose(theirs, ok), "no such inline query"),
        (await choose("999999", ok), "no such inline query"),
        (await choose(None, ok), "query must be a string"),
    ]
    for r, error in refusals:
        assert r.status_code == 400 and error in r.json()["error"], r.text
    assert (await choose(found["query"], ok)).status_code == 200
    again = await choose(found["query"], ok)  # each query is chosen from once
    assert again.status_code == 400 and "no such inline query" in again.json()["error"]
    assert len(fake.via_bot(GROUP)) == 1 and fake.via_bot(USER_ID) == []


def test_the_page_gets_plain_fields_only() -> None:
    raw = {
        "type": "article",
        "id": 7,
        "title": "<img src=x onerror=alert(1)>" * 100,
        "thumbnail_url": "javascript:alert(1)",
        "input_message_content": {"message_text": "<b>x</b>", "parse_mode": "HTML"},
    }
    shown = shown_result(raw)
    assert set(shown) == {"id", "type", "title", "description", "sendable"}
    assert shown["id"] == "7" and len(shown["title"]) == 256 and shown["sendable"]


@pytest.mark.slow
def test_the_daemon_answers_attacks_on_inline_mode_with_a_4xx(tmp_path: Path, start: Any) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "001_aaaabbbbcccc0001.txt").write_text(article(1), encoding="utf-8")
    d = start(
        {
            "FEEDBOT_INDEX__PATH": str(tmp_path / "index"),
            "FEEDBOT_STORAGE__PATH": str(tmp_path / "var" / "feedbot.sqlite3"),
            "FEEDBOT_HTTP__PORT": "0",
        }
    )
    api = d.wait_for(r"playground (http://\S+/playground/)", timeout=30).group(1) + "api/"

    def post(path: str, body: Any, **headers: str) -> httpx.Response:
        return httpx.post(api + path, json=body, headers=headers, timeout=20)

    found = post("inline", {"chat": GROUP, "query": "rivers"})
    assert found.status_code == 200 and found.json()["results"], found.text
    query, result = found.json()["query"], found.json()["results"][0]["id"]
    markup = post("inline", {"chat": GROUP, "query": '<b>rivers</b> & NEAR("x'})
    assert markup.status_code == 200 and "note" not in markup.json(), markup.text
    huge = httpx.post(
        api + "inline",
        content=json.dumps({"chat": GROUP, "query": "x" * 1024 * 1024}).encode(),
        headers={"content-type": "application/json"},
        timeout=20,
    )
    assert huge.status_code == 413, huge.text
    for body in ({"query": query, "result": "forged"}, {"query": "1", "result": result}):
        r = post("choose", body)
        assert r.status_code == 400 and r.json()["error"], r.text
    cross = post("choose", {"query": query, "result": result}, origin="http://evil.example")
    assert cross.status_code == 403
    chosen = post("choose", {"query": query, "result": result})
    assert chosen.status_code == 200 and chosen.json()["message"]["via"] == BOT
    assert "Traceback" not in d.log
    assert d.stop()[0] == 0


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("send", b'{"chat": %d, "text": "\\ud800rivers"}' % USER_ID),  # was a 500
        ("inline", b'{"chat": %d, "query": "\\ud800rivers"}' % GROUP),  # was 10 s of silence
        ("choose", b'{"query": "1", "result": "\\udfff"}'),
    ],
)
async def test_a_lone_surrogate_is_a_400(harness: Harness, path: str, body: bytes) -> None:
    r = await harness.client.post(
        f"/playground/api/{path}", content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400 and "not valid Unicode text" in r.json()["error"], r.text
    assert harness.pg.log.messages(USER_ID) == []
