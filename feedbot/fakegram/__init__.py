"""A fake Telegram Bot API server on 127.0.0.1, for driving python-telegram-bot over real HTTP.

It behaves like Telegram where a broadcasting bot can go wrong: HTML parse errors,
the 4096-unit limit, blocked and unknown chats, migrated groups, flood control
(sliding windows, configurable), and injected faults (5xx, timeouts, 429s) from a
seeded RNG. What it copies of Telegram, with the sources: docs/telegram-emulator.md.
Use it either way::

    async with FakeBotAPI() as fake:          # inside a pytest-asyncio test
        bot = telegram.Bot(fake.token, base_url=fake.base_url)

    fake = FakeBotAPI().start_in_thread()     # for a subprocess daemon
    ...; fake.stop_thread()

The control side (``inject``, ``command``, ``block``, ``sent`` …) is plain Python,
thread-safe, callable from the test while the server runs. Its logs: ``attempts`` (each
message a bot tried to send, with its outcome), ``requests`` (each request once answered)
and the call log, ``calls(method, replica=…)``: each request as it arrived, in order, even
one still waiting (a getUpdates long poll), with the offset a getUpdates confirms. Every
request is tagged with the client that made it (``base_url_for(name)``). ``delays`` makes
a method slow (``fake.delays["setmycommands"] = 2.0``); ``latency`` does so for sendMessage.

The package, by job: `server` (`FakeBotAPI`: lifecycle, routing, faults), `state` (the
chats and bookkeeping every part shares), `messages` (sendMessage, editMessageText,
deleteMessage, flood control), `updates` (getUpdates, the webhook, commands, callbacks,
membership changes), `forums` (forum topics) and `records` (the dataclasses and helpers).
"""

from __future__ import annotations

from feedbot.fakegram.forums import ForumTopics
from feedbot.fakegram.records import (
    DEFAULT_TOKEN,
    DELETE_AFTER,
    SEND_METHODS,
    Call,
    FakeLimits,
    Faults,
    JSONDict,
    RequestRecord,
    RetryWindow,
    Sent,
    _Reply,
)
from feedbot.fakegram.server import FakeBotAPI

__all__ = [
    "DEFAULT_TOKEN",
    "DELETE_AFTER",
    "SEND_METHODS",
    "Call",
    "FakeBotAPI",
    "FakeLimits",
    "Faults",
    "ForumTopics",
    "JSONDict",
    "RequestRecord",
    "RetryWindow",
    "Sent",
    "_Reply",
]
