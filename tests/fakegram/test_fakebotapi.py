"""The fake Bot API, driven through the real python-telegram-bot stack over real HTTP."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Bot, BotCommand, Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

import feedbot.telegram  # noqa: F401 - sets PTB_TIMEDELTA, as the app does
from feedbot.fakegram import FakeBotAPI, FakeLimits, Faults, updates
from feedbot.fakegram.server import listening_socket


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url) as b:
        yield b


async def test_get_me(bot: Bot) -> None:
    assert bot.username == "feedbot_test_bot"
    me = await bot.get_me()
    assert me.is_bot


async def test_unknown_token_is_401(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("42:WRONG", base_url=fake.base_url):
            pass


async def test_send_message_ok(bot: Bot, fake: FakeBotAPI) -> None:
    msg = await bot.send_message(7, "<b>Hi</b> &amp; 😀", parse_mode="HTML")
    assert msg.text == "Hi & 😀"
    assert msg.entities[0].type == "bold"
    assert (msg.entities[0].offset, msg.entities[0].length) == (0, 2)
    [sent] = fake.sent
    assert (sent.chat_id, sent.text, sent.parse_mode) == (7, "<b>Hi</b> &amp; 😀", "HTML")
    assert fake.texts(7) == ["<b>Hi</b> &amp; 😀"]


@pytest.mark.parametrize("text", ["<b>unclosed", "a &nbsp; b", "<br>", "<b><i>x</b></i>", "x & y"])
async def test_bad_html_is_400(bot: Bot, fake: FakeBotAPI, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(7, text, parse_mode="HTML")
    assert fake.sent == []
    assert fake.attempts[0].outcome == "400"


async def test_too_long_counts_utf16_after_parsing(bot: Bot) -> None:
    await bot.send_message(7, "<b>" + "😀" * 2048 + "</b>", parse_mode="HTML")  # 4096 units
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(7, "😀" * 2048 + "x")


async def test_blocked_chat_is_403(bot: Bot, fake: FakeBotAPI) -> None:
    fake.block(9)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(9, "hi")


async def test_unknown_chat_when_strict() -> None:
    async with FakeBotAPI(strict_chats=True) as fake, Bot(fake.token, base_url=fake.base_url) as b:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await b.send_message(5, "hi")
        fake.add_chat(-100123, "channel", username="news")
        msg = await b.send_message("@news", "hi")
        assert msg.chat.type == "channel"


async def test_migrated_chat(bot: Bot, fake: FakeBotAPI) -> None:
    fake.migrate(-55, -1001234567890)
    with pytest.raises(ChatMigrated) as info:
        await bot.send_message(-55, "hi")
    assert info.value.new_chat_id == -1001234567890
    await bot.send_message(-1001234567890, "hi")


def frozen_clock() -> float:
    return 1000.0  # every request arrives at the same instant


async def test_global_flood_limit_is_429_with_retry_after() -> None:
    async with FakeBotAPI(clock=frozen_clock) as fake, Bot(fake.token, base_url=fake.base_url) as b:
        for chat in range(1, 31):
            await b.send_message(chat, "x")
        with pytest.raises(RetryAfter) as info:
            await b.send_message(99, "x")
        assert info.value.retry_after == timedelta(seconds=1)
        assert fake.count_429 == 1
        window = fake.retry_windows[0]
        assert window.chat_id is None and window.end - window.start == 1
        assert len(fake.sent) == 30


async def test_sliding_window_reopens(bot: Bot, fake: FakeBotAPI) -> None:
    now = [0.0]
    fake.clock = lambda: now[0]
    for chat in range(30):
        now[0] = chat * 0.03
        await bot.send_message(chat + 1, "x")
    now[0] = 0.95
    with pytest.raises(RetryAfter):
        await bot.send_message(99, "x")
    now[0] = 1.001  # the first message has left the window
    await bot.send_message(99, "x")
    assert fake.requests_in_retry_windows() == [fake.requests[-1]]


async def test_group_limit_is_per_minute_and_configurable() -> None:
    limits = FakeLimits(group_per_minute=3, global_per_second=None)
    async with FakeBotAPI(limits=limits) as fake, Bot(fake.token, base_url=fake.base_url) as b:
        for _ in range(3):
            await b.send_message(-77, "x")
        with pytest.raises(RetryAfter) as info:
            await b.send_message(-77, "x")
        assert 55 <= info.value.retry_after.total_seconds() <= 60
        await b.send_message(-78, "other group is fine")
        await b.send_message(5, "private too")
        assert fake.requests_in_retry_windows() == []
        await b.send_message(-78, "y")
        assert fake.requests_in_retry_windows() == []


async def test_paid_broadcast_window() -> None:
    limits = FakeLimits(global_per_second=2, paid_per_second=5)
    fake = FakeBotAPI(limits=limits, clock=frozen_clock)
    async with fake, Bot(fake.token, base_url=fake.base_url) as b:
        for chat in range(1, 6):
            await b.send_message(chat, "x", allow_paid_broadcast=True)
        with pytest.raises(RetryAfter):
            await b.send_message(6, "x", allow_paid_broadcast=True)
        with pytest.raises(RetryAfter):
            await b.send_message(6, "x")
        assert fake.count_429 == 2


async def test_request_inside_retry_window_is_reported(bot: Bot, fake: FakeBotAPI) -> None:
    fake.set_faults(rate=1.0, kinds=("429",), retry_after=3)
    with pytest.raises(RetryAfter):
        await bot.send_message(1, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(2, "x")  # a well-behaved sender would have waited 3 s
    assert [r.chat_id for r in fake.requests_in_retry_windows()] == [2]  # inside the first window


async def test_random_faults_are_seeded(fake: FakeBotAPI) -> None:
    request = HTTPXRequest(read_timeout=1.0)  # generous: only injected timeouts may time out
    async with Bot(fake.token, base_url=fake.base_url, request=request) as b:
        outcomes = []
        for run in range(2):
            fake.set_faults(rate=0.5, seed=3, timeout_delay=1.3)
            result = []
            for chat in range(12):
                try:
                    await b.send_message(1000 + chat + 100 * run, "x")
                    result.append("ok")
                except RetryAfter:
                    result.append("429")
                except NetworkError as e:  # 5xx and TimedOut
                    result.append(type(e).__name__)
            outcomes.append(result)
            await asyncio.sleep(1.0)  # past the injected retry_after
    assert outcomes[0] == outcomes[1]
    assert {"ok", "429", "NetworkError"} <= set(outcomes[0])


async def test_injected_timeout_exceeds_the_client_timeout(fake: FakeBotAPI) -> None:
    fake.set_faults(rate=1.0, kinds=("timeout",), timeout_delay=0.6)
    async with Bot(fake.token, base_url=fake.base_url, request=HTTPXRequest(read_timeout=0.2)) as b:
        with pytest.raises(TimedOut):
            await b.send_message(1, "x")
    assert fake.sent == []
    await fake.wait_for(lambda: [a.outcome for a in fake.attempts] == ["timeout"], timeout=3)


async def test_get_updates_delivers_an_injected_start(fake: FakeBotAPI) -> None:
    replies: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        replies.append(" ".join(context.args or []))
        await update.effective_message.reply_text("welcome")

    app: Application = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()  # type: ignore[type-arg]
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=2))
        fake.command("/start hello", chat_id=42)
        await fake.wait_for(lambda: len(fake.sent) == 1, timeout=5)
        fake.command("/start@feedbot_test_bot", chat_id=-100500, user_id=42, chat_type="supergroup")
        await fake.wait_for(lambda: len(fake.sent) == 2, timeout=5)
        await app.updater.stop()
        await app.stop()
    assert replies == ["hello", ""]
    assert [s.chat_id for s in fake.sent] == [42, -100500]


async def test_long_poll_waits_for_an_update(fake: FakeBotAPI) -> None:
    async with httpx.AsyncClient() as client:
        url = f"{fake.base_url}{fake.token}/getUpdates"
        began = time.monotonic()
        r = await client.post(url, data={"timeout": "0.3"})
        assert r.json() == {"ok": True, "result": []}
        assert time.monotonic() - began >= 0.25
        loop = asyncio.get_running_loop()
        loop.call_later(0.1, lambda: fake.command("/help", chat_id=1))
        r = await client.post(url, json={"timeout": 5})
        [update] = r.json()["result"]
        assert time.monotonic() - began < 2
        r = await client.post(url, data={"offset": str(update["update_id"] + 1), "timeout": "0"})
        assert r.json()["result"] == []


async def test_a_second_poller_ends_the_first_with_409_and_both_are_in_the_call_log(
    fake: FakeBotAPI,
) -> None:
    """Like Telegram: a newer getUpdates ends the long poll already waiting with 409
    Conflict. The call log shows each poll at arrival, by client, with its offset."""
    async with httpx.AsyncClient() as client:
        first_url = fake.base_url_for("a") + fake.token + "/getUpdates"
        second_url = fake.base_url_for("b") + fake.token + "/getUpdates"
        waiting = asyncio.ensure_future(client.post(first_url, json={"timeout": 5, "offset": 7}))
        await fake.wait_for(lambda: len(fake.calls("getUpdates")) == 1)
        assert [(c.replica, c.offset) for c in fake.calls("getUpdates")] == [("a", 7)]
        assert fake.requests == []  # still waiting: only the call log has it
        second = await client.post(second_url, json={"timeout": 0})
        first = await waiting
    assert first.status_code == 409 and "terminated by other getUpdates" in first.text
    assert second.json() == {"ok": True, "result": []}
    assert [(c.replica, c.offset) for c in fake.calls("getupdates")] == [("a", 7), ("b", None)]
    assert fake.calls(replica="b")[0].method == "getupdates"


async def test_delays_slow_one_method(bot: Bot, fake: FakeBotAPI) -> None:
    fake.delays["setmycommands"] = 0.3
    began = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - began < 0.3
    await bot.set_my_commands([BotCommand("help", "Help")])
    assert time.monotonic() - began >= 0.3


async def test_set_my_commands_recorded_per_language(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.set_my_commands([BotCommand("start", "Subscribe")])
    await bot.set_my_commands([BotCommand("start", "Iscriviti")], language_code="it")
    assert fake.commands[("default", "")] == [{"command": "start", "description": "Subscribe"}]
    assert fake.commands[("default", "it")][0]["description"] == "Iscriviti"
    assert (await bot.get_my_commands(language_code="it"))[0].description == "Iscriviti"


async def test_chat_member_and_callbacks(bot: Bot, fake: FakeBotAPI) -> None:
    fake.set_member(-5, 10, "administrator")
    fake.set_member(-5, 12, "creator")
    assert (await bot.get_chat_member(-5, 10)).status == "administrator"
    assert (await bot.get_chat_member(-5, 12)).status == "creator"
    assert (await bot.get_chat_member(-5, 11)).status == "member"
    assert (await bot.get_chat(-5)).type == "group"
    msg = await bot.send_message(3, "pick")
    await bot.edit_message_text("picked", chat_id=3, message_id=msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("picked", chat_id=3, message_id=msg.message_id)
    assert await bot.answer_callback_query("abc", text="done")
    assert fake.callback_answers[0]["text"] == "done"
    updates = [fake.callback("lang:it", chat_id=3, message_id=msg.message_id)]
    updates.append(fake.chat_member(chat_id=-5, old="member", new="kicked"))
    got = await bot.get_updates(timeout=0)
    assert [u.update_id for u in got] == updates
    assert got[0].callback_query is not None and got[0].callback_query.data == "lang:it"
    assert got[1].my_chat_member is not None
    assert got[1].my_chat_member.new_chat_member.status == "kicked"


async def test_webhook_conflicts_with_polling(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.set_webhook("https://example.invalid/hook", secret_token="s3cret")
    assert (await bot.get_webhook_info()).url == "https://example.invalid/hook"
    with pytest.raises(Exception, match="Conflict"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates() == ()


def test_runs_in_a_thread_for_subprocesses() -> None:
    with FakeBotAPI() as fake:
        r = httpx.post(
            f"{fake.base_url}{fake.token}/sendMessage", data={"chat_id": "5", "text": "hi"}
        )
        assert r.json()["result"]["text"] == "hi"
        fake.command("/start", chat_id=5)
        r = httpx.post(f"{fake.base_url}{fake.token}/getUpdates", data={"timeout": "1"})
        assert r.json()["result"][0]["message"]["text"] == "/start"
    assert fake.texts(5) == ["hi"]


def test_faults_dataclass_defaults() -> None:
    assert Faults().rate == 0.0


async def test_webhook_receives_injected_updates_with_the_secret(fake: FakeBotAPI) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def hook(request: Request) -> Response:
        secret = request.headers.get("x-telegram-bot-api-secret-token")
        received.append((secret, await request.json()))
        return Response(status_code=200)

    receiver = FakeBotAPI()  # borrow its server plumbing for a plain Starlette receiver
    receiver.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with receiver:
        url = receiver.base_url.removesuffix("/bot") + "/hook"
        async with Bot(fake.token, base_url=fake.base_url) as b:
            await b.set_webhook(url, secret_token="s3cret")
        first = fake.command("/start", chat_id=8)
        second = fake.command("/help", chat_id=8)
        await fake.wait_for(lambda: len(received) == 2, timeout=5)
    assert [(s, u["update_id"]) for s, u in received] == [("s3cret", first), ("s3cret", second)]


async def test_the_webhook_client_is_made_for_an_update_to_deliver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An httpx client loads the CA bundle (~2.5 MB) when made: an emulator whose bot
    polls (the playground's) makes none; one with a webhook makes it to deliver."""
    made: list[httpx.AsyncClient] = []

    class Counted(httpx.AsyncClient):
        def __init__(self, **kwargs: Any) -> None:
            made.append(self)
            super().__init__(**kwargs)

    monkeypatch.setattr(
        updates, "httpx", SimpleNamespace(AsyncClient=Counted, HTTPError=httpx.HTTPError)
    )
    received: list[dict[str, object]] = []

    async def hook(request: Request) -> Response:
        received.append(await request.json())
        return Response(status_code=200)

    receiver = FakeBotAPI()
    receiver.app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    async with FakeBotAPI() as fake, receiver, httpx.AsyncClient(timeout=5) as client:
        fake.command("/start", chat_id=8)
        polled = await client.get(f"{fake.base_url}{fake.token}/getUpdates")
        assert [u["message"]["text"] for u in polled.json()["result"]] == ["/start"]
        assert made == []
        url = receiver.base_url.removesuffix("/bot") + "/hook"
        await client.post(f"{fake.base_url}{fake.token}/setWebhook", json={"url": url})
        fake.command("/help", chat_id=8)
        await fake.wait_for(lambda: len(received) == 2, timeout=5)  # /start unconfirmed
    assert [u["message"]["text"] for u in received] == ["/start", "/help"] and len(made) == 1


def test_connections_write_at_once() -> None:
    """The emulator's connections have TCP_NODELAY: without it, on asyncio's loop, every
    answer (headers, then body) waited ~40 ms for the client's delayed ACK, so a long poll
    took 40 ms longer than Telegram's to bring an update."""
    listener = listening_socket()
    listener.listen()
    try:
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()
