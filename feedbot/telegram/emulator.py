"""A fake Telegram Bot API server on 127.0.0.1, for driving python-telegram-bot over real HTTP.

It behaves like Telegram where a broadcasting bot can go wrong: HTML parse errors,
the 4096-unit limit, blocked and unknown chats, migrated groups, flood control
(sliding windows, configurable), and injected faults (5xx, timeouts, 429s) from a
seeded RNG. Use it either way::

    async with FakeBotAPI() as fake:          # inside a pytest-asyncio test
        bot = telegram.Bot(fake.token, base_url=fake.base_url)

    fake = FakeBotAPI().start_in_thread()     # for a subprocess daemon
    ...; fake.stop_thread()

The control side (``inject``, ``command``, ``block``, ``sent`` …) is plain Python,
thread-safe, callable from the test while the server runs.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import contextvars
import itertools
import json
import math
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feedbot.telegram.emulator_forums import ForumTopics
from feedbot.telegram.messages import utf16_len
from feedbot.telegram.parse_html import TelegramHTMLError, parse_telegram_html

__all__ = ["FakeBotAPI", "FakeLimits", "Faults", "RequestRecord", "RetryWindow", "Sent"]

# Shaped like a real token but assembled, so no token-shaped literal is in the repo.
DEFAULT_TOKEN = "123456789:" + "AA" + "FakeTokenForTestsOnly_abcdefghijk"
SEND_METHODS = frozenset({"sendmessage", "editmessagetext", "deletemessage"})
DELETE_AFTER = 48 * 3600.0  # seconds after which a bot may no longer delete its message
JSONDict = dict[str, Any]
# Which client sent the request being handled: several processes (replicas) can share one
# fake, each with its own base URL ``…/r/<name>/bot`` (`FakeBotAPI.base_url_for`).
_REPLICA: contextvars.ContextVar[str] = contextvars.ContextVar("replica", default="")


@dataclass(frozen=True)
class FakeLimits:
    """Flood control. ``None`` switches a limit off."""

    global_per_second: int | None = 30
    group_per_minute: int | None = 20  # per group or channel (negative chat id)
    private_per_second: int | None = None  # per private chat; off like Telegram's soft limit
    paid_per_second: int = 1000  # applies instead of global_per_second with allow_paid_broadcast


@dataclass(frozen=True)
class Faults:
    """Random faults on ``methods``: with probability ``rate`` one of ``kinds`` happens."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("5xx", "timeout", "429")
    seed: int = 0
    retry_after: int = 1
    timeout_delay: float = 6.0  # longer than the client's read timeout
    timeout_delivers: bool = False  # a timed-out message was delivered anyway (a duplicate risk)
    methods: frozenset[str] = SEND_METHODS


@dataclass
class Sent:
    """One sendMessage/editMessageText attempt and what came of it."""

    method: str
    chat_id: int | str
    text: str
    parse_mode: str | None
    time: float  # time.monotonic() at arrival
    outcome: str  # ok, 400, 403, 429, 5xx, timeout, migrated
    description: str = ""
    message_id: int | None = None
    params: JSONDict = field(default_factory=dict)
    replica: str = ""  # the client's name from its base URL ("" for the plain one)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    time: float
    chat_id: int | str | None
    status: int
    replica: str = ""


@dataclass(frozen=True)
class RetryWindow:
    """A 429 told the client not to send (to ``chat_id``, or at all if None) until ``end``."""

    start: float
    end: float
    chat_id: int | str | None


class _Reply(Exception):
    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def _decode(value: Any) -> Any:
    """Form values are strings, nested objects JSON strings; JSON bodies are typed."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _chat_id(value: Any) -> int | str:
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def _member(user: JSONDict, status: str) -> JSONDict:
    """A ChatMember object as Telegram sends it."""
    m: JSONDict = {"status": status, "user": user}
    if status == "creator":
        m["is_anonymous"] = False
    elif status == "administrator":
        perms = ["can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages"]
        perms += ["can_manage_video_chats", "can_restrict_members", "can_promote_members"]
        perms += ["can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories"]
        perms.append("can_delete_stories")
        m.update({p: p not in ("can_be_edited", "is_anonymous") for p in perms})
    elif status == "kicked":
        m["until_date"] = 0
    return m


class FakeBotAPI(ForumTopics):
    """The fake server and its control side."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        limits: FakeLimits | None = None,
        strict_chats: bool = False,
        bot_username: str = "feedbot_test_bot",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.clock = clock  # arrival times and flood windows; tests may freeze it
        self.wall_clock = wall_clock  # when a message was sent (its 48 h to be deleted)
        self.limits = limits or FakeLimits()
        self.strict_chats = strict_chats
        self.bot_user: JSONDict = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Feedbot Test",
            "username": bot_username,
        }
        self._lock = threading.RLock()
        self._faults = Faults()
        self._rng = random.Random(0)
        self.latency = 0.0  # seconds every sendMessage waits before it is answered
        self._chats: dict[int | str, JSONDict] = {}
        self._usernames: dict[str, int] = {}
        self._blocked: set[int | str] = set()
        self._migrated: dict[int | str, int] = {}
        self._members: dict[tuple[int | str, int], str] = {}
        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(1)
        self._polls = 0  # getUpdates calls so far; only the newest may wait
        self._message_ids: dict[int | str, itertools.count[int]] = {}
        self._texts: dict[tuple[int | str, int], str] = {}
        self._markups: dict[tuple[int | str, int], Any] = {}
        self._sent_at: dict[tuple[int | str, int], float] = {}
        self._global: deque[float] = deque()
        self._per_chat: dict[int | str, deque[float]] = {}
        self.attempts: list[Sent] = []
        self.requests: list[RequestRecord] = []
        self.retry_windows: list[RetryWindow] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}  # (scope type, language) → list
        self.callback_answers: list[JSONDict] = []
        self.webhook: JSONDict = {"url": ""}
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._closing = False
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None
        self._thread_stop: asyncio.Event | None = None
        self.app = Starlette(
            routes=[
                Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
                Route("/r/{replica}/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
            ]
        )

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> FakeBotAPI:
        """Start serving on a free port of 127.0.0.1 in the running loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        self._pusher = asyncio.create_task(self._push_webhook())
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.005)
        self.base_url = f"http://127.0.0.1:{port}/bot"
        return self

    async def stop(self) -> None:
        """Stop serving; pending long polls return at once."""
        self._closing = True
        self._wake_all()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pusher

    async def __aenter__(self) -> FakeBotAPI:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def start_in_thread(self) -> FakeBotAPI:
        """Serve from a background thread with its own event loop (for subprocess tests)."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            self._thread_stop = asyncio.Event()
            try:
                await self.start()
            except BaseException as e:
                failure.append(e)
                ready.set()
                raise
            ready.set()
            await self._thread_stop.wait()
            await self.stop()

        self._thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop_thread(self) -> None:
        """Stop a server started with `start_in_thread` and join its thread."""
        if self._thread is None or self._loop is None or self._thread_stop is None:
            return
        self._loop.call_soon_threadsafe(self._thread_stop.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> FakeBotAPI:
        return self.start_in_thread()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop_thread()

    # ----------------------------------------------------------------- control side

    def add_chat(
        self, chat_id: int, type: str | None = None, *, title: str = "", username: str = ""
    ) -> JSONDict:
        """Make a chat known (needed with ``strict_chats``); the type follows from the id."""
        if type is None:
            type = "private" if chat_id > 0 else ("supergroup" if chat_id < -(10**12) else "group")
        chat: JSONDict = {"id": chat_id, "type": type}
        if type == "private":
            chat["first_name"] = title or f"User {chat_id}"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        if username:
            chat["username"] = username
        with self._lock:
            self._chats[chat_id] = chat
            if username:
                self._usernames[username.lower()] = chat_id
        return chat

    def block(self, chat_id: int | str) -> None:
        """The user blocked the bot (or kicked it from the group): sends get 403."""
        with self._lock:
            self._blocked.add(chat_id)

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """The group became a supergroup: sends to the old id get 400 with migrate_to_chat_id."""
        with self._lock:
            self._migrated[chat_id] = new_chat_id
        self.add_chat(new_chat_id, "supergroup")

    def set_member(self, chat_id: int, user_id: int, status: str) -> None:
        """getChatMember's answer: creator, administrator, member, left, kicked."""
        with self._lock:
            self._members[(chat_id, user_id)] = status

    def set_faults(self, faults: Faults | None = None, **kwargs: Any) -> None:
        """Switch random faults on (``set_faults(rate=0.1, seed=7)``) or off (``rate=0``)."""
        faults = faults or Faults(**kwargs)
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def inject(self, update: JSONDict) -> int:
        """Queue an update for getUpdates (or the webhook); returns its update_id."""
        with self._lock:
            update = {**update, "update_id": next(self._update_ids)}
            self._updates.append(update)
            for key in ("message", "callback_query", "my_chat_member"):
                chat = (update.get(key) or {}).get("chat")
                chat = chat or ((update.get(key) or {}).get("message") or {}).get("chat")
                if chat and chat["id"] not in self._chats:
                    self._chats[chat["id"]] = chat
        self._wake_all()
        return int(update["update_id"])

    def _user(self, user_id: int, language_code: str | None) -> JSONDict:
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}
        if language_code:
            user["language_code"] = language_code
        return user

    def _chat(self, chat_id: int, chat_type: str | None) -> JSONDict:
        with self._lock:
            known = self._chats.get(chat_id)
        return (
            known
            if known and chat_type in (None, known["type"])
            else self.add_chat(chat_id, chat_type)
        )

    def _next_message_id(self, chat_id: int | str) -> int:
        with self._lock:
            return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def command(
        self,
        text: str,
        *,
        chat_id: int,
        user_id: int | None = None,
        chat_type: str | None = None,
        language_code: str | None = "en",
        thread_id: int | None = None,
    ) -> int:
        """A user sends ``text`` (e.g. ``/start payload`` or ``/latest@bot 3``) in a chat
        (in forum topic ``thread_id``, if given)."""
        user_id = user_id if user_id is not None else chat_id
        message: JSONDict = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat(chat_id, chat_type),
            "from": self._user(user_id, language_code),
            "text": text,
        }
        if text.startswith("/"):
            cmd = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(cmd)}]
        return self.inject({"message": self.in_topic(message, thread_id)})

    def callback(
        self,
        data: str,
        *,
        chat_id: int,
        message_id: int,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> int:
        """A user presses an inline button with callback ``data`` under message ``message_id``."""
        user_id = user_id if user_id is not None else chat_id
        with self._lock:
            text = self._texts.get((chat_id, message_id), "…")
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id, None),
            "from": self.bot_user,
            "text": text,
        }
        self.in_topic(message, self.thread_of_message(chat_id, message_id))
        query = {
            "id": str(self._rng.getrandbits(48)),
            "from": self._user(user_id, language_code),
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
        }
        return self.inject({"callback_query": query})

    def chat_member(
        self, *, chat_id: int, old: str, new: str, user_id: int = 1, chat_type: str | None = None
    ) -> int:
        """The bot's own membership changes (``member`` → ``kicked`` when removed)."""
        update = {
            "chat": self._chat(chat_id, chat_type),
            "from": self._user(user_id, None),
            "date": int(time.time()),
            "old_chat_member": _member(self.bot_user, old),
            "new_chat_member": _member(self.bot_user, new),
        }
        return self.inject({"my_chat_member": update})

    @property
    def sent(self) -> list[Sent]:
        """Messages Telegram accepted (sendMessage), in arrival order."""
        with self._lock:
            return [s for s in self.attempts if s.outcome == "ok" and s.method == "sendmessage"]

    def texts(self, chat_id: int | str) -> list[str]:
        """The HTML texts delivered to a chat."""
        return [s.text for s in self.sent if s.chat_id == chat_id]

    def shown(self, chat_id: int | str) -> dict[int, str]:
        """What a chat shows now: message id → its text (after edits; deletions gone)."""
        with self._lock:
            found = {m: t for (c, m), t in self._texts.items() if c == chat_id}
        return dict(sorted(found.items()))

    def delete(self, chat_id: int | str, message_id: int) -> None:
        """Someone else (an admin, the user) deleted a message the bot had sent."""
        with self._lock:
            self._texts.pop((chat_id, message_id), None)
            self._markups.pop((chat_id, message_id), None)

    def markup(self, chat_id: int | str, message_id: int) -> Any:
        """The reply markup a message shows now (None: none)."""
        with self._lock:
            return self._markups.get((chat_id, message_id))

    def done(self, method: str) -> list[Sent]:
        """Accepted requests of one method (``editmessagetext``, ``deletemessage`` …)."""
        with self._lock:
            return [s for s in self.attempts if s.outcome == "ok" and s.method == method]

    @property
    def count_429(self) -> int:
        with self._lock:
            return sum(1 for s in self.attempts if s.outcome == "429")

    def requests_in_retry_windows(self, grace: float = 0.0) -> list[RequestRecord]:
        """Sending requests that arrived while a 429's retry_after was running (after ``grace``)."""
        with self._lock:
            windows, requests = list(self.retry_windows), list(self.requests)
        return [
            r
            for r in requests
            if r.method in SEND_METHODS
            for w in windows
            if w.start + grace < r.time < w.end and w.chat_id in (None, r.chat_id)
        ]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (in the test's loop) until ``predicate()`` holds; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout:.1f} s")
            await asyncio.sleep(0.01)

    # ----------------------------------------------------------------- server side

    def _wake_all(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        old, self._wake = self._wake, asyncio.Event()
        if old is not None:
            old.set()

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._closing and time.monotonic() < deadline:
            await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))

    def base_url_for(self, replica: str) -> str:
        """A base URL that tags every request (and message) with ``replica``."""
        return self.base_url.removesuffix("/bot") + f"/r/{replica}/bot"

    async def _endpoint(self, request: Request) -> Response:
        now = self.clock()
        replica = request.path_params.get("replica", "")
        _REPLICA.set(replica)
        params: JSONDict = dict(request.query_params)
        body = await request.body()
        if body:
            if request.headers.get("content-type", "").startswith("application/json"):
                params.update(json.loads(body))
            else:
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
        params = {k: _decode(v) if k not in ("text", "url") else v for k, v in params.items()}
        method = request.path_params["method"].lower()
        chat = params.get("chat_id")
        chat_id = _chat_id(chat) if chat is not None else None
        try:
            if request.path_params["token"] != self.token:
                raise _Reply(401, "Unauthorized")
            handler = self._handlers().get(method)
            if handler is None:
                raise _Reply(404, "Not Found")
            await self._maybe_fault(method, params, chat_id, now)
            result = await handler(params, chat_id, now)
        except _Reply as r:
            with self._lock:
                self.requests.append(RequestRecord(method, now, chat_id, r.status, replica))
            if r.status == 502:
                return Response("<html><body>502 Bad Gateway</body></html>", 502)
            payload: JSONDict = {"ok": False, "error_code": r.status, "description": r.description}
            if r.parameters:
                payload["parameters"] = r.parameters
            return JSONResponse(payload, status_code=r.status)
        with self._lock:
            self.requests.append(RequestRecord(method, now, chat_id, 200, replica))
        return JSONResponse({"ok": True, "result": result})

    def _handlers(self) -> dict[str, Callable[[JSONDict, Any, float], Awaitable[Any]]]:
        return {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "deletewebhook": self._delete_webhook,
            "setwebhook": self._set_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "deletemessage": self._delete_message,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "answercallbackquery": self._answer_callback_query,
            "getchatmember": self._get_chat_member,
            "getchat": self._get_chat,
            "sendchataction": self._true,
        }

    async def _maybe_fault(self, method: str, params: JSONDict, chat_id: Any, now: float) -> None:
        with self._lock:
            f = self._faults
            if method not in f.methods or not f.rate or self._rng.random() >= f.rate:
                return
            kind = self._rng.choice(f.kinds)
            status = self._rng.choice((500, 502))
        if kind == "429":
            with self._lock:
                self.retry_windows.append(RetryWindow(now, now + f.retry_after, None))
                self._record(method, params, chat_id, now, "429", "injected")
            raise _Reply(
                429,
                f"Too Many Requests: retry after {f.retry_after}",
                {"retry_after": f.retry_after},
            )
        if kind == "timeout":
            # Telegram accepts (or refuses) the message on arrival; only the answer is lost.
            if f.timeout_delivers and method == "sendmessage":
                with contextlib.suppress(_Reply):
                    await self._send_message(params, chat_id, now)
                with self._lock:
                    record = self.attempts[-1]  # no await since _send_message recorded it
                    if record.outcome == "ok":
                        record.outcome, record.description = "timeout", "injected, delivered"
            else:
                self._record(method, params, chat_id, now, "timeout", "injected")
            await self._sleep(f.timeout_delay)
            raise _Reply(504, "Gateway Timeout")
        self._record(method, params, chat_id, now, "5xx", f"injected {status}")
        raise _Reply(status, "Internal Server Error")

    def _record(
        self, method: str, params: JSONDict, chat_id: Any, now: float, outcome: str, desc: str
    ) -> Sent:
        sent = Sent(
            method,
            chat_id,
            str(params.get("text", "")),
            params.get("parse_mode"),
            now,
            outcome,
            desc,
            params=params,
            replica=_REPLICA.get(),
        )
        with self._lock:
            self.attempts.append(sent)
        return sent

    async def _true(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        return True

    async def _get_me(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        extra = {"can_join_groups": True, "can_read_all_group_messages": False}
        return {**self.bot_user, **extra, "supports_inline_queries": False}

    async def _delete_webhook(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        with self._lock:
            self.webhook = {"url": ""}
            if params.get("drop_pending_updates") in (True, "true"):
                self._updates.clear()
        return True

    async def _set_webhook(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        url = str(params.get("url", ""))
        if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise _Reply(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
        with self._lock:
            self.webhook = {"url": url, "secret_token": params.get("secret_token")}
        self._wake_all()
        return True

    async def _get_webhook_info(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        with self._lock:
            pending = len(self._updates)
            return {
                "url": self.webhook["url"],
                "has_custom_certificate": False,
                "pending_update_count": pending,
            }

    async def _get_updates(self, params: JSONDict, chat_id: Any, now: float) -> list[JSONDict]:
        if self.webhook["url"]:
            raise _Reply(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        deadline = now + float(params.get("timeout") or 0)
        # Like Telegram, a second poller ends the long poll already waiting with 409.
        with self._lock:
            self._polls += 1
            mine = self._polls
        self._wake_all()
        while True:
            if self._polls != mine:
                raise _Reply(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )
            wake = self._wake
            with self._lock:
                if offset:
                    self._updates = [u for u in self._updates if u["update_id"] >= offset]
                ready = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if ready or self._closing or remaining <= 0 or wake is None:
                return ready
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), remaining)

    async def _push_webhook(self) -> None:
        """Deliver queued updates to the webhook, in order, with its secret token."""
        async with httpx.AsyncClient(timeout=5) as client:
            while not self._closing:
                wake = self._wake
                with self._lock:
                    url, secret = self.webhook["url"], self.webhook.get("secret_token")
                    pending = list(self._updates) if url else []
                for update in pending:
                    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
                    try:
                        r = await client.post(url, json=update, headers=headers)
                    except httpx.HTTPError:
                        break
                    if r.status_code >= 300:
                        break
                    with self._lock:
                        self._updates = [u for u in self._updates if u is not update]
                if wake is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), 0.5 if pending else 5)

    def _resolve(self, chat: Any) -> JSONDict:
        """The chat object for a chat_id parameter, or 400 chat not found."""
        if chat is None or chat == "":
            raise _Reply(400, "Bad Request: chat_id is empty")
        with self._lock:
            if isinstance(chat, str) and chat.startswith("@"):
                found = self._usernames.get(chat[1:].lower())
                if found is None:
                    raise _Reply(400, "Bad Request: chat not found")
                chat = found
            if chat in self._migrated:
                raise _Reply(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self._migrated[chat]},
                )
            known = self._chats.get(chat)
        if known is None:
            if self.strict_chats or not isinstance(chat, int):
                raise _Reply(400, "Bad Request: chat not found")
            known = self.add_chat(chat)
        return known

    def _check_text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        raw = str(params.get("text", ""))
        mode = str(params.get("parse_mode") or "")
        text, entities = raw, []
        if mode.lower() == "html":
            try:
                text, parsed = parse_telegram_html(raw)
            except TelegramHTMLError as e:
                raise _Reply(400, f"Bad Request: can't parse entities: {e}") from None
            entities = [e.to_dict() for e in parsed]
        if not text.strip():
            raise _Reply(400, "Bad Request: message text is empty")
        if utf16_len(text) > 4096:
            raise _Reply(400, "Bad Request: message is too long")
        return text, entities

    def _flood(self, chat: JSONDict, paid: bool, now: float) -> None:
        """429 when this message would break a sliding window; else count it."""
        lim = self.limits
        cid = chat["id"]
        per_chat, period = (lim.private_per_second, 1.0)
        if chat["type"] != "private":
            per_chat, period = lim.group_per_minute, 60.0
        overall = lim.paid_per_second if paid else lim.global_per_second
        checks: list[tuple[deque[float], int, float, int | None]] = []
        if overall is not None:
            checks.append((self._global, overall, 1.0, None))
        if per_chat is not None:
            checks.append((self._per_chat.setdefault(cid, deque()), per_chat, period, cid))
        # Requests are checked in the order they are handled, which under load is not
        # quite their arrival order: keep each window sorted and count only arrivals in
        # (now - span, now], or a late-handled early arrival would see a phantom flood.
        for window, limit, span, scope in checks:
            while window and window[0] <= now - span:
                window.popleft()
            upto = bisect.bisect_right(window, now)
            if upto >= limit:
                retry = max(1, math.ceil(window[upto - limit] + span - now))
                self.retry_windows.append(RetryWindow(now, now + retry, scope))
                raise _Reply(429, f"Too Many Requests: retry after {retry}", {"retry_after": retry})
        for window, *_ in checks:
            bisect.insort(window, now)

    async def _send_message(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        if self.latency:
            await self._sleep(self.latency)
        try:
            chat = self._resolve(params.get("chat_id"))
            with self._lock:
                if chat["id"] in self._blocked:
                    raise _Reply(403, self._forbidden(chat))
            text, entities = self._check_text(params)
            if (thread_error := self.thread_error(chat, params)) is not None:
                raise _Reply(400, thread_error)
            with self._lock:
                self._flood(chat, params.get("allow_paid_broadcast") in (True, "true"), now)
        except _Reply as r:
            outcome = {400: "400", 403: "403", 429: "429"}.get(r.status, str(r.status))
            if r.parameters and "migrate_to_chat_id" in r.parameters:
                outcome = "migrated"
            self._record("sendmessage", params, chat_id, now, outcome, r.description)
            raise
        message_id = self._next_message_id(chat["id"])
        sent = self._record("sendmessage", params, chat["id"], now, "ok", "")
        sent.message_id = message_id
        with self._lock:
            self._texts[(chat["id"], message_id)] = text
            self._markups[(chat["id"], message_id)] = params.get("reply_markup")
            self._sent_at[(chat["id"], message_id)] = self.wall_clock()
        message: JSONDict = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        if chat["type"] != "channel":
            message["from"] = self.bot_user
        message["text"] = text
        if entities:
            message["entities"] = entities
        self.mark_thread(message, params)
        return message

    @staticmethod
    def _forbidden(chat: JSONDict) -> str:
        if chat["type"] == "private":
            return "Forbidden: bot was blocked by the user"
        if chat["type"] == "channel":
            return "Forbidden: bot is not a member of the channel chat"
        return f"Forbidden: bot was kicked from the {chat['type']} chat"

    async def _edit_message_text(self, params: JSONDict, chat_id: Any, now: float) -> Any:
        if params.get("inline_message_id"):
            self._check_text(params)
            return True
        try:
            chat = self._resolve(params.get("chat_id"))
            key = (chat["id"], int(params.get("message_id") or 0))
            with self._lock:
                if chat["id"] in self._blocked:
                    raise _Reply(403, self._forbidden(chat))
            text, entities = self._check_text(params)
            markup = params.get("reply_markup")
            with self._lock:
                old = self._texts.get(key)
                if old is None:
                    raise _Reply(400, "Bad Request: message to edit not found")
                if old == text and self._markups.get(key) == markup:
                    raise _Reply(
                        400,
                        "Bad Request: message is not modified: specified new message content and "
                        "reply markup are exactly the same as a current content and reply markup "
                        "of the message",
                    )
                self._flood(chat, False, now)  # edits count; Telegram sells no paid edits
                self._texts[key] = text
                self._markups[key] = markup
        except _Reply as r:
            self._record("editmessagetext", params, chat_id, now, str(r.status), r.description)
            raise
        sent = self._record("editmessagetext", params, chat["id"], now, "ok", "")
        sent.message_id = key[1]
        message: JSONDict = {"message_id": key[1], "date": int(time.time()), "chat": chat}
        message.update({"from": self.bot_user, "text": text, "edit_date": int(time.time())})
        if entities:
            message["entities"] = entities
        return message

    async def _delete_message(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        try:
            chat = self._resolve(params.get("chat_id"))
            key = (chat["id"], int(params.get("message_id") or 0))
            with self._lock:
                if chat["id"] in self._blocked:
                    raise _Reply(403, self._forbidden(chat))
                if key not in self._texts:
                    raise _Reply(400, "Bad Request: message to delete not found")
                if self.wall_clock() - self._sent_at.get(key, 0.0) >= DELETE_AFTER:
                    raise _Reply(400, "Bad Request: message can't be deleted")
                self._flood(chat, False, now)
                del self._texts[key]
                self._markups.pop(key, None)
        except _Reply as r:
            self._record("deletemessage", params, chat_id, now, str(r.status), r.description)
            raise
        sent = self._record("deletemessage", params, chat["id"], now, "ok", "")
        sent.message_id = key[1]
        return True

    async def _set_my_commands(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or not commands:
            raise _Reply(400, "Bad Request: commands must be a non-empty array")
        for c in commands:
            name, desc = str(c.get("command", "")), str(c.get("description", ""))
            if not ((1 <= len(name) <= 32 and name.islower()) or name.isdigit()) or not (
                1 <= len(desc) <= 256
            ):
                raise _Reply(400, "Bad Request: BOT_COMMAND_INVALID")
        scope = (params.get("scope") or {}).get("type", "default")
        with self._lock:
            self.commands[(scope, str(params.get("language_code") or ""))] = commands
        return True

    async def _get_my_commands(self, params: JSONDict, chat_id: Any, now: float) -> Any:
        scope = (params.get("scope") or {}).get("type", "default")
        with self._lock:
            return self.commands.get((scope, str(params.get("language_code") or "")), [])

    async def _delete_my_commands(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        scope = (params.get("scope") or {}).get("type", "default")
        with self._lock:
            self.commands.pop((scope, str(params.get("language_code") or "")), None)
        return True

    async def _answer_callback_query(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        with self._lock:
            self.callback_answers.append(params)
        return True

    async def _get_chat_member(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        chat = self._resolve(params.get("chat_id"))
        user_id = int(params.get("user_id") or 0)
        with self._lock:
            status = self._members.get((chat["id"], user_id))
        if status is None:
            status = "member" if chat["type"] != "private" or user_id == chat["id"] else "left"
        return _member(self._user(user_id, None), status)

    async def _get_chat(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        chat = self._resolve(params.get("chat_id"))
        gifts = (
            "unlimited_gifts limited_gifts unique_gifts premium_subscription gifts_from_channels"
        )
        extra = {"accent_color_id": 0, "max_reaction_count": 11}
        return {**chat, **extra, "accepted_gift_types": {g: True for g in gifts.split()}}
