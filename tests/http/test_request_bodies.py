"""Request bodies count against their route's limit, never against the request head's.

A real `feedbot run` in webhook mode gets the large updates Telegram can send from
the Bot API emulator and answers them; past a route's body limit it answers 413.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from feedbot.fakegram import FakeBotAPI
from feedbot.http.guard import MAX_BODY_BYTES, MAX_HEAD_BYTES
from feedbot.telegram.chat.handlers import WEBHOOK_MAX_BODY
from tests.botkit import TOKEN
from tests.conftest import SEED
from tests.daemonkit import Daemon
from tests.pgserver import free_port
from tests.waiting import until

pytestmark = pytest.mark.slow

SECRET = "hook-Secret_18"
HOOK = "/telegram/webhook"
CHAT = 7001


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(TOKEN).start_in_thread()
    yield api
    api.stop_thread()


@pytest.fixture
def webhook_daemon(
    tmp_path: Path, fake: FakeBotAPI, start: Callable[..., Daemon]
) -> Iterator[Daemon]:
    index = tmp_path / "index"
    index.mkdir()
    (index / "001_a.txt").write_bytes(SEED.read_bytes())
    port = free_port()
    d = start(
        {
            "FEEDBOT_INDEX__PATH": str(index),
            "FEEDBOT_STORAGE__PATH": str(tmp_path / "var" / "db.sqlite3"),
            "FEEDBOT_HTTP__PORT": str(port),
            "FEEDBOT_INDEX__SETTLE_MS": "0",
            "FEEDBOT_LOG__LEVEL": "DEBUG",
            "FEEDBOT_TELEGRAM__TOKEN": TOKEN,
            "FEEDBOT_TELEGRAM__API_BASE_URL": fake.base_url,
            "FEEDBOT_TELEGRAM__MODE": "webhook",
            "FEEDBOT_TELEGRAM__WEBHOOK_URL": f"http://127.0.0.1:{port}{HOOK}",
            "FEEDBOT_TELEGRAM__WEBHOOK_SECRET": SECRET,
        }
    )
    d.wait_started(timeout=30)
    until(lambda: fake.webhook.get("url"), timeout=30, what="the webhook set")
    yield d
    assert TOKEN.split(":")[1] not in d.log


def _long_message(message_id: int, text: str, *, command: bool = False) -> dict[str, Any]:
    """A private message whose every character is bold (one entity each)."""
    entities = [{"type": "bold", "offset": i, "length": 1} for i in range(len(text))]
    if command:
        entities = [{"type": "bot_command", "offset": 0, "length": 6}, *entities[6:]]
    return {
        "message_id": message_id,
        "date": 1700000000,
        "chat": {"id": CHAT, "type": "private", "first_name": "Ann"},
        "from": {"id": CHAT, "is_bot": False, "first_name": "Ann", "language_code": "en"},
        "text": text,
        "entities": entities,
    }


def large_update() -> dict[str, Any]:
    """`/start` in a 4096-character message replying to another, quoting 1024 characters."""
    quoted = "«Ünïcödé» " * 410  # 4100 characters: cut to Telegram's 4096
    message = _long_message(2, "/start " + "ж" * 4089, command=True)
    message["reply_to_message"] = _long_message(1, quoted[:4096])
    message["quote"] = {"text": quoted[:1024], "position": 0, "is_manual": True}
    return {"message": message}


def test_a_large_webhook_update_is_taken_and_answered(
    webhook_daemon: Daemon, fake: FakeBotAPI
) -> None:
    update = large_update()
    size = len(httpx.Request("POST", "http://x", json=update).content)
    assert MAX_HEAD_BYTES < size < WEBHOOK_MAX_BODY
    fake.inject(update)
    until(lambda: fake.texts(CHAT), timeout=30, what="the bot's answer")
    assert fake.texts(CHAT)[0].startswith("Welcome"), fake.texts(CHAT)


def test_a_webhook_body_past_its_limit_is_413(webhook_daemon: Daemon, fake: FakeBotAPI) -> None:
    url = webhook_daemon.url.rstrip("/") + HOOK
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "content-type": "application/json"}
    padding = b'{"update_id": 1, "pad": "' + b"x" * WEBHOOK_MAX_BODY + b'"}'
    r = httpx.post(url, content=padding, headers=headers, timeout=30)
    assert r.status_code == 413, r.text
    chunked = httpx.post(url, content=iter([padding[:1000], padding[1000:]]), headers=headers)
    assert chunked.status_code == 413, chunked.text
    # The daemon still takes an ordinary update afterwards and answers it.
    fake.command("/start", chat_id=CHAT + 1)
    until(lambda: fake.texts(CHAT + 1), timeout=30, what="the answer after the 413s")


def _raw(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)
        return s.recv(256)


@pytest.mark.parametrize(
    ("path", "size", "status"),
    [
        ("/", 30 * 1024, b"405"),  # the site answers GET and HEAD only; not 431
        ("/healthz", 30 * 1024, b"405"),
        ("/healthz", MAX_BODY_BYTES + 1, b"413"),
        (HOOK, 30 * 1024, b"403"),  # no secret; read, then refused for that alone
    ],
)
def test_a_body_in_the_same_read_as_the_head_is_not_head(
    webhook_daemon: Daemon, path: str, size: int, status: bytes
) -> None:
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    answer = _raw(webhook_daemon.url, head + b"x" * size)
    assert answer.startswith(b"HTTP/1.1 " + status + b" "), answer
