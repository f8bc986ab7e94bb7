"""The playground in-process: when it runs, what it keeps apart, its API and its refusals.

The browser side is in tests/playground/test_playground_browser.py; here the page's API is
driven through feedbot's real web app (httpx's ASGI transport) while the real bot
talks HTTP to the emulator on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedbot.app import build_daemon
from feedbot.config import Settings
from feedbot.http.app import create_app
from feedbot.playground import playground_component, playground_enabled
from feedbot.playground.chatlog import ChatLog
from feedbot.playground.service import USER_ID, Playground
from feedbot.runtime.daemon import Daemon
from feedbot.store import Store
from tests.storekit import off_loop
from tests.waiting import until_async

GROUP, FORUM, CHANNEL = -1001000000101, -1001000000102, -1001000000103
ARTICLE = "date 2026-11-20 A <b>bold</b> claim & more\n\nThe body <script>alert(1)</script>.\n"


def settings_for(tmp_path: Path, **sections: Any) -> Settings:
    (tmp_path / "index").mkdir(exist_ok=True)
    return Settings(
        index={"path": tmp_path / "index", "settle_ms": 0, "watch": False},
        storage={"path": tmp_path / "var" / "feedbot.sqlite3"},
        feed={"base_url": "https://news.example.org/", "title": "Test News"},
        **sections,
    )


@pytest.mark.parametrize(
    ("sections", "on"),
    [
        ({}, True),
        ({"http": {"host": "::1"}}, True),
        ({"http": {"host": "localhost"}}, True),
        ({"http": {"host": "0.0.0.0"}}, False),
        ({"http": {"host": "192.168.1.5"}}, False),
        ({"telegram": {"token": "1:x"}}, False),
        ({"playground": {"enabled": False}}, False),
        ({"playground": {"enabled": True}, "http": {"host": "0.0.0.0"}}, True),
        ({"playground": {"enabled": True}, "telegram": {"token": "1:x"}}, False),
    ],
)
def test_when_the_playground_runs(tmp_path: Path, sections: dict[str, Any], on: bool) -> None:
    assert playground_enabled(settings_for(tmp_path, **sections))[0] is on


@pytest.mark.parametrize(
    "sections", [{"telegram": {"token": "123:secret"}}, {"http": {"host": "0.0.0.0"}}]
)
async def test_off_means_404(tmp_path: Path, sections: dict[str, Any]) -> None:
    settings = settings_for(tmp_path, **sections)
    store = await off_loop(Store.open, settings.storage.path)
    daemon = await off_loop(build_daemon, settings, store, components=[playground_component])
    assert daemon.components == []
    app = create_app(daemon.site, settings.http, offload=store.db.call)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://x") as c:
        for path in ("/playground", "/playground/", "/playground/api/state"):
            assert (await c.get(path)).status_code == 404
    await off_loop(store.close)


class Harness:
    def __init__(
        self, pg: Playground, client: httpx.AsyncClient, settings: Settings, daemon: Daemon
    ) -> None:
        self.pg, self.client, self.settings, self.daemon = pg, client, settings, daemon

    async def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        return await self.client.post(f"/playground/api/{path}", json=body, headers=headers)

    async def say(self, chat: int, text: str, thread: int | None = None, lang: str = "en") -> None:
        r = await self.post(
            "send", {"chat": chat, "thread": thread, "text": text, "language": lang}
        )
        assert r.status_code == 200, r.text

    async def messages(self, chat: int, thread: int | None = None) -> list[dict[str, Any]]:
        query = f"chat={chat}" + (f"&thread={thread}" if thread is not None else "")
        r = await self.client.get(f"/playground/api/messages?{query}")
        assert r.status_code == 200, r.text
        return list(r.json()["messages"])

    async def bot_says(self, chat: int, needle: str, thread: int | None = None) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def seen() -> bool:
            found[:] = [
                m.to_json()
                for m in self.pg.log.messages(chat, thread)
                if m.sender == "bot" and needle in m.text
            ]
            return bool(found)

        await until_async(seen)
        return found[-1]

    async def drop(self, name: str, text: str) -> None:
        """Write an article file; the daemon's scan stores it and wakes the playground."""
        (self.settings.index.path / name).write_text(text, encoding="utf-8")
        assert await self.daemon.scan("watch") is not None


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = settings_for(tmp_path)
    store = await off_loop(Store.open, settings.storage.path)
    daemon = await off_loop(build_daemon, settings, store, components=[playground_component])
    [pg] = daemon.components
    assert isinstance(pg, Playground)
    app = create_app(daemon.site, settings.http, routes=pg.routes, offload=store.db.call)
    await pg.start()
    await daemon.scan("start")  # as `Daemon.run`: the first scan, then the components lead
    await pg.lead(daemon.leadership)
    assert pg.running, pg.problem
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as client:
        yield Harness(pg, client, settings, daemon)
    await pg.stop()
    await off_loop(store.close)


def _listening_addresses(port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp{,6})."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, _, hex_port = local.partition(":")
                if state == "0A" and int(hex_port, 16) == port:
                    found.append(address)
    return found


async def test_the_emulator_listens_on_127_0_0_1_only(harness: Harness) -> None:
    emulator = harness.pg.emulator
    assert emulator is not None
    url = httpx.URL(emulator.base_url)
    assert url.host == "127.0.0.1"
    assert _listening_addresses(url.port or 0) == [
        socket.inet_aton("127.0.0.1")[::-1].hex().upper()
    ]
    # the bot really talks to it: the production service's base URL is the emulator's
    assert harness.pg.bot is not None
    assert harness.pg.bot.application.bot.base_url.startswith(emulator.base_url)


async def test_start_post_settings_and_the_group_refusal(harness: Harness) -> None:
    await harness.say(USER_ID, "/start")
    await harness.bot_says(USER_ID, "Welcome to Test News")
    await harness.drop("001_aaaabbbbccccdddd.txt", ARTICLE)
    post = await harness.bot_says(USER_ID, "A <b>bold</b> claim & more")
    assert post["entities"][0] == {"type": "bold", "offset": 0, "length": 26}
    assert "<script>alert(1)</script>" in post["text"]  # text, drawn as text
    link = [e for e in post["entities"] if e["type"] == "text_link"]
    assert link and link[0]["url"].endswith("/articles/001_aaaabbbbccccdddd.html")
    await harness.bot_says(CHANNEL, "A <b>bold</b> claim")  # the configured channel gets it

    await harness.say(USER_ID, "/settings", lang="it")
    menu = await harness.bot_says(USER_ID, "Settings of this chat")  # subscribed in English
    data = next(b["data"] for row in menu["keyboard"] for b in row if b["text"] == "Italiano")
    r = await harness.post("press", {"chat": USER_ID, "message": menu["id"], "data": data})
    assert r.status_code == 200, r.text
    edited = await harness.bot_says(USER_ID, "Impostazioni di questa chat")
    assert edited["id"] == menu["id"] and edited["edited"] and edited["keyboard"]

    assert (await harness.post("role", {"chat": GROUP, "role": "member"})).status_code == 200
    await harness.say(GROUP, "/start")
    await harness.bot_says(GROUP, "Only the administrators of this group can do that.")
    await harness.say(FORUM, "/latest", thread=2)
    reply = await harness.bot_says(FORUM, "bold", thread=2)
    assert reply["thread"] == 2 and not harness.pg.log.messages(FORUM, None)


async def test_the_playground_keeps_apart_and_starts_fresh(harness: Harness) -> None:
    await harness.say(USER_ID, "/start")
    await harness.bot_says(USER_ID, "Welcome")
    real = await off_loop(Store.open, harness.settings.storage.path)
    assert await off_loop(real.chats.subscribers) == []
    await off_loop(real.close)
    assert harness.pg.store is not None
    assert await off_loop(harness.pg.store.chats.subscribers) == [
        str(USER_ID),
    ]
    await harness.pg.stop()
    await harness.pg.start()  # a new run starts from nothing
    assert harness.pg.store is not None
    assert await off_loop(harness.pg.store.chats.subscribers) == []


async def test_a_post_telegram_refuses_is_shown(harness: Harness) -> None:
    await harness.say(USER_ID, "/start")
    await harness.bot_says(USER_ID, "Welcome")
    queue = harness.pg.log.listen()
    assert queue is not None and harness.pg.emulator is not None
    harness.pg.emulator.block(USER_ID)
    await harness.drop("002_aaaabbbbccccdddd.txt", ARTICLE)
    event = await queue.get()
    while event is not None and event.type != "refused":
        event = await queue.get()
    assert event is not None and event.data["chat"] == USER_ID
    assert event.data["status"] == 403 and "blocked" in event.data["description"]


def test_the_chat_log_draws_refusals_edits_and_deletions() -> None:
    log = ChatLog({"news": CHANNEL})
    chat = {"id": CHANNEL, "type": "channel", "title": "News"}
    log.observe("sendmessage", {"chat_id": "@news"}, None, 400, "Bad Request: can't parse entities")
    assert log.refusals == 1
    sent = {"message_id": 5, "chat": chat, "text": "hi", "date": 1}
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": "d"}, {"bad": 1}], "junk"]}
    log.observe("sendmessage", {"chat_id": CHANNEL, "reply_markup": markup}, sent, 200, "")
    [m] = log.messages(CHANNEL)
    assert m.keyboard == [[{"text": "x", "data": "d"}]]
    log.observe("editmessagetext", {"chat_id": CHANNEL}, {**sent, "text": "ho"}, 200, "")
    assert (m.text, m.edited, m.keyboard) == ("ho", True, [])
    log.observe("deletemessage", {"chat_id": "@news", "message_id": 5}, True, 200, "")
    assert m.deleted and m.text == ""


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("send", "not json", 400, "not JSON"),
        ("send", [1], 400, "JSON object"),
        ("send", {"chat": 1, "text": "/start"}, 400, "no such chat"),
        ("send", {"chat": USER_ID, "text": 5}, 400, "text must be a string"),
        ("send", {"chat": USER_ID, "text": "x" * 5000}, 400, "longer than 4096"),
        ("send", {"chat": USER_ID, "text": "x" * 20000}, 400, "larger than"),
        ("send", {"chat": USER_ID, "text": "  "}, 400, "empty"),
        ("send", {"chat": USER_ID, "text": "hi", "language": "xx"}, 400, "language"),
        ("send", {"chat": FORUM, "text": "hi", "thread": 99}, 400, "no such topic"),
        ("send", {"chat": CHANNEL, "text": "hi"}, 400, "only the bot"),
        ("send", {"chat": True, "text": "hi"}, 400, "chat must be an integer"),
        ("press", {"chat": USER_ID, "message": 999, "data": "lang:en"}, 400, "no such message"),
        ("press", {"chat": USER_ID, "message": 1, "data": "d" * 65}, 400, "longer than 64"),
        ("role", {"chat": USER_ID, "role": "member"}, 400, "roles are for the groups"),
        ("role", {"chat": GROUP, "role": "creator"}, 400, "roles are for the groups"),
    ],
)
async def test_the_api_checks_its_input(
    harness: Harness, path: str, body: Any, status: int, error: str
) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    r = await harness.client.post(
        f"/playground/api/{path}", content=content, headers={"content-type": "application/json"}
    )
    assert r.status_code == status and error in r.json()["error"], r.text


async def test_the_api_refuses_other_origins_and_other_types(harness: Harness) -> None:
    body = {"chat": USER_ID, "text": "/start"}
    r = await harness.post("send", body, origin="https://evil.example")
    assert r.status_code == 403
    r = await harness.client.post("/playground/api/send", data={"chat": "1", "text": "/start"})
    assert r.status_code == 400 and "application/json" in r.json()["error"]
    assert harness.pg.log.messages(USER_ID) == []


async def test_the_page_is_served_with_a_strict_policy(harness: Harness) -> None:
    r = await harness.client.get("/playground/")
    assert r.status_code == 200 and "<title>feedbot playground</title>" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    js = await harness.client.get("/playground/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in js.text  # text nodes only: the bot's text is never parsed as HTML
    state = (await harness.client.get("/playground/api/state?language=it")).json()
    assert {c["command"] for c in state["commands"]} >= {"start", "settings", "latest"}
    assert [c["type"] for c in state["chats"]] == ["private", "supergroup", "supergroup", "channel"]


# --- DNS rebinding (a forged Host) and deeply nested JSON -----------------------------------------

FORGED = {"host": "evil.example:18303", "origin": "http://evil.example:18303"}


async def test_a_forged_host_with_a_matching_origin_is_refused(harness: Harness) -> None:
    body = {"chat": USER_ID, "text": "/start"}
    r = await harness.post("send", body, **FORGED)
    assert r.status_code == 403, r.text
    for path in (
        "/playground/",
        "/playground/api/state",
        f"/playground/api/messages?chat={USER_ID}",
    ):
        assert (await harness.client.get(path, headers=FORGED)).status_code == 403, path
    assert harness.pg.log.messages(USER_ID) == []
    # Loopback names and addresses are the playground's own.
    for host in ("localhost:8080", "127.0.0.1:8080", "[::1]:8080"):
        r = await harness.post("send", body, host=host, origin=f"http://{host}")
        assert r.status_code == 200, (host, r.text)


@pytest.mark.parametrize("depth", [65, 3000, 8000])
async def test_deeply_nested_json_is_a_400(
    harness: Harness, depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    nested = '{"chat": ' * depth + "1" + "}" * depth
    content = f'{{"chat": {USER_ID}, "text": "hi", "deep": {nested}}}'[: 16 * 1024]  # the cap
    with caplog.at_level("INFO", logger="feedbot"):
        r = await harness.client.post(
            "/playground/api/send", content=content, headers={"content-type": "application/json"}
        )
    assert r.status_code == 400 and "nested deeper" in r.json()["error"], r.text
    lines = [rec for rec in caplog.records if "playground: 400" in rec.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert harness.pg.log.messages(USER_ID) == []


@pytest.mark.slow
def test_the_daemon_refuses_rebinding_deep_json_and_large_bodies(
    tmp_path: Path, start: Any
) -> None:
    (tmp_path / "index").mkdir()
    d = start(
        {
            "FEEDBOT_INDEX__PATH": str(tmp_path / "index"),
            "FEEDBOT_STORAGE__PATH": str(tmp_path / "var" / "feedbot.sqlite3"),
            "FEEDBOT_HTTP__PORT": "0",
        }
    )
    url = d.wait_for(r"playground (http://\S+/playground/)", timeout=30).group(1)
    api = url + "api/send"
    body = {"chat": USER_ID, "text": "/start"}
    assert httpx.post(api, json=body, headers=FORGED, timeout=10).status_code == 403
    deep = b'{"chat": ' + b"[" * 3000 + b"]" * 3000 + b"}"
    r = httpx.post(api, content=deep, headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400 and "nested deeper" in r.json()["error"], r.text
    d.wait_for(r"playground: 400 for /playground/api/send: JSON nested deeper")
    assert "Traceback" not in d.log and "RecursionError" not in d.log
    assert d.log.count("playground: 400") == 1
    for size, status in ((26 * 1024, 400), (60 * 1024, 400), (65 * 1024, 413)):  # not 431
        big = json.dumps({**body, "text": "x" * size}).encode()
        r = httpx.post(api, content=big, headers={"content-type": "application/json"}, timeout=10)
        assert r.status_code == status, (size, r.status_code, r.text)
    r = httpx.post(api, json=body, timeout=10)  # the page's own request still goes through
    assert r.status_code == 200, r.text
    assert d.stop()[0] == 0
