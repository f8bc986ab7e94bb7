"""The bot's handlers through the real python-telegram-bot stack, over HTTP, against a fake.

Every test runs a `TelegramService` (polling, or webhook) on a real SQLite store in
tmp_path, with log capture at DEBUG: no test may let the token into a log record.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from feedbot.articles.parse import parse
from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from feedbot.telegram.assemble import build_service
from feedbot.telegram.service import TelegramService
from tests.botkit import BASE_URL, TOKEN, Index, assert_token_absent, make_settings
from tests.storekit import off_loop
from tests.waiting import until_async

ADMIN = 4242
GROUP = -1001
USER = 1001


@pytest.fixture(autouse=True)
def _token_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test captures logs at DEBUG (httpx included) and checks the token is absent."""
    caplog.set_level(logging.DEBUG)
    yield
    assert_token_absent(caplog.records, caplog.handler.formatter or logging.Formatter())


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(TOKEN) as server:
        yield server


@dataclass
class Chat:
    """One conversation: send a command, wait for the bot's next message."""

    fake: FakeBotAPI
    chat_id: int
    user_id: int
    language: str | None = "en"
    chat_type: str | None = None
    thread_id: int | None = None  # a forum topic

    async def send(self, text: str, *, user_id: int | None = None) -> str:
        before = len(self.fake.texts(self.chat_id))
        self.post(text, user_id=user_id)
        await self.fake.wait_for(lambda: len(self.fake.texts(self.chat_id)) > before)
        return self.fake.texts(self.chat_id)[before]

    def post(self, text: str, *, user_id: int | None = None) -> None:
        self.fake.command(
            text,
            chat_id=self.chat_id,
            user_id=user_id or self.user_id,
            chat_type=self.chat_type,
            language_code=self.language,
            thread_id=self.thread_id,
        )


@dataclass
class Bot:
    fake: FakeBotAPI
    store: Store
    service: TelegramService
    tmp_path: Path

    def chat(self, chat_id: int = USER, **kwargs: Any) -> Chat:
        kwargs.setdefault("user_id", chat_id if chat_id > 0 else USER)
        return Chat(self.fake, chat_id, **kwargs)

    async def subscribed(self) -> list[str]:
        return await off_loop(self.store.chats.subscribers)


@pytest.fixture
async def bot(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path
) -> AsyncIterator[Bot]:
    settings = make_settings(tmp_path, fake.base_url, storage_url=database_url, admins=[ADMIN])
    service = build_service(settings, store)
    await service.start()
    await service.lead()
    try:
        yield Bot(fake, store, service, tmp_path)
    finally:
        await service.stop()


def _verify_modes(service: TelegramService) -> list[ssl.VerifyMode]:
    """How the bot's two httpx clients (sending, getUpdates) check TLS certificates."""
    bot = service.application.bot
    requests = (
        bot.request,
        bot._request[0],
    )  # (sending, getUpdates): python-telegram-bot internals
    return [r._client._transport._pool._ssl_context.verify_mode for r in requests]


async def test_only_a_plain_http_bot_api_skips_tls_verification(
    tmp_path: Path, fake: FakeBotAPI, store: Store
) -> None:
    """The playground's emulator (plain http on 127.0.0.1) needs no CA bundle; the real
    Bot API (https) keeps certificate verification on both clients, as httpx does by default."""
    real = build_service(make_settings(tmp_path, "https://api.telegram.org/bot"), store)
    emulated = build_service(make_settings(tmp_path, fake.base_url), store)
    try:
        assert _verify_modes(real) == [ssl.CERT_REQUIRED, ssl.CERT_REQUIRED]
        assert fake.base_url.startswith("http://")
        assert _verify_modes(emulated) == [ssl.CERT_NONE, ssl.CERT_NONE]
    finally:
        await real.stop()
        await emulated.stop()


# --------------------------------------------------------------------------- private chats


async def test_building_the_bot_logs_no_token(
    tmp_path: Path, fake: FakeBotAPI, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    """python-telegram-bot logs "Set Bot API URL: …/bot<token>" at DEBUG when the bot is
    built; the fixtures build it before the test, where the capture does not look."""
    caplog.set_level(logging.DEBUG)
    service = build_service(make_settings(tmp_path, fake.base_url), store)
    assert any("Set Bot API URL" in r.getMessage() for r in caplog.records)
    await service.stop()
    assert_token_absent(caplog.records, caplog.handler.formatter or logging.Formatter())


async def test_start_subscribes_and_welcomes_in_english(bot: Bot) -> None:
    reply = await bot.chat().send("/start")
    assert reply.startswith("Welcome to Test News!")
    assert "/stop" in reply
    assert await bot.subscribed() == [str(USER)]
    [sent] = bot.fake.sent
    assert sent.parse_mode == "HTML"


async def test_start_in_italian_by_language_code(bot: Bot) -> None:
    reply = await bot.chat(language="it").send("/start")
    assert reply.startswith("Benvenuto in Test News!")


async def test_unknown_language_code_gets_the_default(bot: Bot) -> None:
    reply = await bot.chat(language="de").send("/start")
    assert reply.startswith("Welcome")


async def test_start_accepts_a_deep_link_payload(bot: Bot) -> None:
    reply = await bot.chat().send("/start campaign-42")
    assert reply.startswith("Welcome")
    assert await bot.subscribed() == [str(USER)]


@pytest.mark.parametrize("command", ["/unsubscribe", "/stop"])
async def test_unsubscribe_and_stop(bot: Bot, command: str) -> None:
    chat = bot.chat()
    await chat.send("/start")
    assert (await chat.send(command)).startswith("Unsubscribed")
    assert await bot.subscribed() == []
    assert (await chat.send(command)).startswith("This chat is not subscribed")
    assert (await chat.send("/subscribe")).startswith("Subscribed")
    assert (await chat.send("/subscribe")).startswith("This chat is already subscribed")
    assert await bot.subscribed() == [str(USER)]


async def test_command_addressed_to_this_bot_works(bot: Bot) -> None:
    reply = await bot.chat().send("/start@feedbot_test_bot")
    assert reply.startswith("Welcome")
    assert await bot.subscribed() == [str(USER)]


async def test_command_addressed_to_another_bot_is_ignored(bot: Bot) -> None:
    chat = bot.chat()
    chat.post("/start@otherbot")
    chat.post("/nonsense@otherbot")
    reply = await chat.send("/help")  # updates are handled in order: the two came first
    assert reply.startswith("Test News posts")
    assert bot.fake.texts(USER) == [reply]
    assert await bot.subscribed() == []


async def test_unknown_command_gets_a_pointer(bot: Bot) -> None:
    reply = await bot.chat().send("/frobnicate now")
    assert reply == "Unknown command. Send /help to see the commands."


async def test_help_lists_commands(bot: Bot) -> None:
    reply = await bot.chat().send("/help")
    for command in ("/start", "/subscribe", "/unsubscribe", "/latest", "/feed", "/settings"):
        assert command in reply
    assert "/stats" not in reply
    admin_reply = await bot.chat(ADMIN).send("/help")
    assert "/stats" in admin_reply


async def test_feed_gives_the_feed_urls(bot: Bot) -> None:
    reply = await bot.chat().send("/feed")
    for path in ("feed.atom", "feed.rss", "feed.json"):
        assert BASE_URL + path in reply


async def test_latest_lists_the_newest_headlines(bot: Bot) -> None:
    chat = bot.chat()
    assert await chat.send("/latest") == "No articles yet."
    index = await off_loop(Index, bot.tmp_path / "index", bot.store)
    index.write(6)
    await off_loop(index.scan)
    articles = [parse(p.name, p.read_bytes()) for p in sorted(index.folder.glob("*.txt"))]
    newest = sorted(articles, key=lambda a: (a.date.value, a.seq, a.id), reverse=True)
    reply = await chat.send("/latest 3")
    assert reply.startswith("<b>The 3 latest articles:</b>")
    links = [line.split('"')[1] for line in reply.splitlines()[1:]]
    assert links == [f"{BASE_URL}articles/{a.id}.html" for a in newest[:3]]
    assert len((await chat.send("/latest 50")).splitlines()) == 1 + 6
    assert (await chat.send("/latest x")).startswith("Usage: /latest [n]")


async def test_settings_buttons_set_the_language(bot: Bot) -> None:
    chat = bot.chat()
    assert (await chat.send("/settings")).startswith("This chat is not subscribed.")
    await chat.send("/start")
    reply = await chat.send("/settings")
    assert reply.startswith("<b>Settings of this chat:</b>\nLanguage: English\n")
    menu = bot.fake.sent[-1]
    markup = menu.params["reply_markup"]
    data = [b["callback_data"] for row in markup["inline_keyboard"] for b in row]
    assert data[:2] == ["s:0:1:lang:en", "s:0:1:lang:it"]
    assert menu.message_id is not None
    bot.fake.callback("s:0:1:lang:it", chat_id=USER, message_id=menu.message_id)
    await bot.fake.wait_for(lambda: any(a.method == "editmessagetext" for a in bot.fake.attempts))
    [edit] = [a for a in bot.fake.attempts if a.method == "editmessagetext"]
    assert edit.outcome == "ok"
    assert edit.text.startswith("<b>Impostazioni di questa chat:</b>\nLingua: italiano\n")
    assert len(bot.fake.callback_answers) == 1
    assert await off_loop(bot.store.chats.chat_language, str(USER)) == "it"
    # The user's Telegram is in English, the chat chose Italian: Italian wins from now on.
    assert (await chat.send("/start")).startswith("Benvenuto")


async def test_reconfigure_gives_the_running_limiter_new_rates(bot: Bot) -> None:
    """SIGHUP's path into the bot: the limiter python-telegram-bot uses takes the new rates."""
    from feedbot.telegram.send.limits import FeedbotRateLimiter

    limiter = bot.service.application.bot.rate_limiter
    assert isinstance(limiter, FeedbotRateLimiter) and limiter.gate.window.limit == 30
    settings = make_settings(bot.tmp_path, bot.fake.base_url, global_rate=5)
    bot.service.reconfigure(settings)
    assert limiter.gate.window.limit == 5
    assert "/latest" in await bot.chat().send("/help")  # and it still sends


async def test_stats_only_for_admins(bot: Bot) -> None:
    await bot.chat().send("/start")
    refused = await bot.chat().send("/stats")
    assert refused == "Only the bot's administrators can do that."
    reply = await bot.chat(ADMIN).send("/stats")
    assert reply.startswith("<b>Statistics</b>")
    assert "1 subscribed chat" in reply
    assert "0 articles" in reply


async def test_stats_counts_deliveries(bot: Bot) -> None:
    await bot.chat().send("/start")
    index = await off_loop(Index, bot.tmp_path / "index", bot.store)
    index.write(2)
    await off_loop(index.scan)  # baseline: nothing is owed
    index.write(1)
    assert len(await off_loop(index.scan)) == 1
    bot.service.wake()
    await bot.fake.wait_for(lambda: len(bot.fake.texts(USER)) == 2)
    await until_async(lambda: bot.store.chats.stats().get("deliveries_sent", 0) == 1)
    reply = await bot.chat(ADMIN).send("/stats")
    assert "3 articles" in reply
    assert "Deliveries: 0 pending, 1 sent, 0 failed" in reply


async def test_set_my_commands_in_english_and_italian(bot: Bot) -> None:
    english = {c["command"]: c["description"] for c in bot.fake.commands[("default", "")]}
    italian = {c["command"]: c["description"] for c in bot.fake.commands[("default", "it")]}
    for commands in (english, italian):
        assert {"start", "subscribe", "unsubscribe", "latest", "feed", "settings", "help"} <= set(
            commands
        )
    assert english["help"] != italian["help"]
    assert english.keys() == italian.keys()


# --------------------------------------------------------------------------- groups


async def test_group_subscribe_by_non_admin_is_refused(bot: Bot) -> None:
    bot.fake.set_member(GROUP, USER, "member")
    group = bot.chat(GROUP, user_id=USER)
    reply = await group.send("/start")
    assert reply == "Only the administrators of this group can do that."
    assert (await group.send("/subscribe")).startswith("Only the administrators")
    assert await bot.subscribed() == []


async def test_group_subscribe_by_admin_and_unsubscribe(bot: Bot) -> None:
    bot.fake.set_member(GROUP, ADMIN, "administrator")
    bot.fake.set_member(GROUP, USER, "member")
    group = bot.chat(GROUP, user_id=ADMIN)
    assert (await group.send("/subscribe@feedbot_test_bot")).startswith("Subscribed")
    assert await bot.subscribed() == [str(GROUP)]
    assert (await group.send("/stop", user_id=USER)).startswith("Only the administrators")
    assert await bot.subscribed() == [str(GROUP)]
    bot.fake.set_member(GROUP, USER, "creator")
    assert (await group.send("/stop", user_id=USER)).startswith("Unsubscribed")
    assert await bot.subscribed() == []


async def test_group_settings_by_non_admin_button_is_refused(bot: Bot) -> None:
    bot.fake.set_member(GROUP, ADMIN, "administrator")
    group = bot.chat(GROUP, user_id=ADMIN)
    await group.send("/subscribe")
    await group.send("/settings")
    menu = bot.fake.sent[-1]
    assert menu.message_id is not None
    bot.fake.callback("s:0:1:lang:it", chat_id=GROUP, message_id=menu.message_id, user_id=USER)
    await bot.fake.wait_for(lambda: len(bot.fake.callback_answers) == 1)
    assert "administrators" in str(bot.fake.callback_answers[0].get("text"))
    assert await off_loop(bot.store.chats.chat_language, str(GROUP)) == "en"  # as subscribed


async def test_removed_from_group_unsubscribes(bot: Bot) -> None:
    bot.fake.set_member(GROUP, ADMIN, "administrator")
    await bot.chat(GROUP, user_id=ADMIN).send("/start")
    assert await bot.subscribed() == [str(GROUP)]
    bot.fake.chat_member(chat_id=GROUP, old="member", new="kicked")
    await until_async(lambda: bot.store.chats.subscribers() == [])


async def test_added_to_group_says_hello(bot: Bot) -> None:
    bot.fake.chat_member(chat_id=GROUP, old="left", new="member")
    await bot.fake.wait_for(lambda: len(bot.fake.texts(GROUP)) == 1)
    assert bot.fake.texts(GROUP)[0].startswith("Thanks for adding me!")
    assert await bot.subscribed() == []


async def test_blocked_private_chat_unsubscribes(bot: Bot) -> None:
    await bot.chat().send("/start")
    bot.fake.chat_member(chat_id=USER, old="member", new="kicked")
    await until_async(lambda: bot.store.chats.subscribers() == [])


# --------------------------------------------------------------------------- webhook mode


def _update(update_id: int, text: str, chat_id: int = USER) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1700000000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Ann"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ann", "language_code": "en"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


async def test_webhook_checks_the_secret(
    database_url: str, fake: FakeBotAPI, store: Store, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        fake.base_url,
        storage_url=database_url,
        mode="webhook",
        webhook_url="http://127.0.0.1:9/hook",
        webhook_path="/hook",
        webhook_secret="s3cret-Token_1",
    )
    service = build_service(settings, store)
    await service.start()
    await service.lead()
    try:
        assert fake.webhook == {"url": "http://127.0.0.1:9/hook", "secret_token": "s3cret-Token_1"}
        app = Starlette(routes=service.routes)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            header = "X-Telegram-Bot-Api-Secret-Token"
            missing = await client.post("/hook", json=_update(1, "/start"))
            wrong = await client.post("/hook", json=_update(2, "/start"), headers={header: "nope"})
            assert (missing.status_code, wrong.status_code) == (403, 403)
            assert (
                await client.get("/hook", headers={header: "s3cret-Token_1"})
            ).status_code == 405
            bad = await client.post("/hook", content=b"{", headers={header: "s3cret-Token_1"})
            assert bad.status_code == 400
            ok = await client.post(
                "/hook", json=_update(3, "/start"), headers={header: "s3cret-Token_1"}
            )
            assert ok.status_code == 200
        await fake.wait_for(lambda: len(fake.texts(USER)) == 1)
        assert fake.texts(USER)[0].startswith("Welcome")
        assert await off_loop(store.chats.subscribers) == [str(USER)]
        # Polling is off in webhook mode: the fake saw no getUpdates.
        assert not [r for r in fake.requests if r.method == "getupdates"]
    finally:
        await service.stop()


# --------------------------------------------------------------------------- start-up


@pytest.mark.parametrize(
    ("failing", "getme_calls"),
    [("getme", 2), ("setmycommands", 1)],  # initialize() failed / succeeded before the failure
)
async def test_a_bot_api_down_at_start_is_retried(
    fake: FakeBotAPI, store: Store, tmp_path: Path, failing: str, getme_calls: int
) -> None:
    """A call of the start-up fails: the service retries in the background, then serves."""
    fake.set_faults(rate=1.0, kinds=("5xx",), methods=frozenset({failing}))
    service = build_service(make_settings(tmp_path, fake.base_url), store)
    await service.start()
    await service.lead()
    try:
        assert not service.running
        assert service.health()["telegram"]["running"] is False
        fake.set_faults(rate=0)
        await fake.wait_for(lambda: service.running, timeout=15)
        assert [r.method for r in fake.requests].count("getme") == getme_calls
        assert (await Chat(fake, USER, USER).send("/start")).startswith("Welcome")
    finally:
        await service.stop()


async def test_stop_while_the_bot_api_is_still_down(
    fake: FakeBotAPI, store: Store, tmp_path: Path
) -> None:
    """Stopping before the first good connect ends the retries and closes the bot's connections
    (an unclosed socket is a ResourceWarning, an error here)."""
    fake.set_faults(rate=1.0, kinds=("5xx",), methods=frozenset({"getme", "setmycommands"}))
    service = build_service(make_settings(tmp_path, fake.base_url), store)
    await service.start()
    await service.lead()
    await service.stop()
    assert not service.running
    calls = len(fake.requests)
    await service.stop()  # twice is harmless
    assert len(fake.requests) == calls
