"""The Bot API emulator's server: `FakeBotAPI` (its lifecycle, in the running loop or a
thread of its own), routing each request to its handler, and injected faults.
The package's docstring (`feedbot.fakegram`) says how to use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from feedbot.fakegram.inline import InlineHandlers
from feedbot.fakegram.messages import MessageHandlers
from feedbot.fakegram.records import (
    DEFAULT_TOKEN,
    REQUEST_REPLICA,
    Call,
    ErrorReply,
    FakeLimits,
    Faults,
    JSONDict,
    Observer,
    RequestRecord,
    RetryWindow,
    Sent,
    chat_id_param,
    decode_param,
)

__all__ = ["FakeBotAPI", "listening_socket"]


def listening_socket() -> socket.socket:
    """A TCP socket bound to a free port of 127.0.0.1 whose connections write at once.

    TCP_NODELAY is set here, and accepted connections inherit it: asyncio sets it only on
    sockets made with ``proto=IPPROTO_TCP``, and without it an answer written in two parts
    (uvicorn writes the headers, then the body) waits for the client's delayed ACK, about
    40 ms on Linux, before its body goes out: every long poll answered so took 40 ms more
    than Telegram's servers take."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


Handler = Callable[[JSONDict, Any, float], Awaitable[Any]]
# Parameters kept as sent: strings that may look like JSON numbers ("1e5", "007").
RAW_PARAMS = frozenset({"text", "url", "inline_query_id", "next_offset"})


class FakeBotAPI(MessageHandlers, InlineHandlers):
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
        self.delays: dict[str, float] = {}  # method (lower case) → seconds before it is answered
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
        self._calls: list[Call] = []
        self.retry_windows: list[RetryWindow] = []
        self.commands: dict[tuple[str, str], list[JSONDict]] = {}  # (scope type, language) → list
        self.callback_answers: list[JSONDict] = []
        self.webhook: JSONDict = {"url": ""}
        self._allowed_updates: list[str] | None = None
        self.inline_mode = False  # off until @BotFather /setinline (`set_inline`)
        self.inline_feedback = False  # /setinlinefeedback (`set_inline_feedback`)
        self._inline_queries = {}
        self._inline_ids = itertools.count(10**17 + 1)
        self._via_bot = []
        self._observers: list[Observer] = []
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
        sock = listening_socket()
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

    def set_faults(self, faults: Faults | None = None, **kwargs: Any) -> None:
        """Switch random faults on (``set_faults(rate=0.1, seed=7)``) or off (``rate=0``)."""
        faults = faults or Faults(**kwargs)
        with self._lock:
            self._faults = faults
            self._rng = random.Random(faults.seed)

    def calls(self, method: str | None = None, *, replica: str | None = None) -> list[Call]:
        """The call log: every request as it arrived (a long poll too, before it is
        answered), in order; only ``method`` (any case) and ``replica``'s, if given."""
        name = method.lower() if method is not None else None
        with self._lock:
            return [
                c
                for c in self._calls
                if (name is None or c.method == name) and (replica is None or c.replica == replica)
            ]

    def add_observer(self, observer: Observer) -> None:
        """Tell ``observer`` of every call that reaches its handler, once answered:
        ``observer(method, params, result, 200, "")``, or ``(method, params, None, status,
        description)`` when refused. It runs in the emulator's loop (its thread, with
        `start_in_thread`) before the answer goes out, so it must be quick and not block."""
        with self._lock:
            self._observers.append(observer)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait (in the test's loop) until ``predicate()`` holds; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout:.1f} s")
            await asyncio.sleep(0.01)

    # ----------------------------------------------------------------- server side

    def base_url_for(self, replica: str) -> str:
        """A base URL that tags every request (and message) with ``replica``."""
        return self.base_url.removesuffix("/bot") + f"/r/{replica}/bot"

    async def _endpoint(self, request: Request) -> Response:
        now = self.clock()
        replica = request.path_params.get("replica", "")
        REQUEST_REPLICA.set(replica)
        params: JSONDict = dict(request.query_params)
        body = await request.body()
        if body:
            if request.headers.get("content-type", "").startswith("application/json"):
                params.update(json.loads(body))
            else:
                params.update(parse_qsl(body.decode(), keep_blank_values=True))
        params = {k: v if k in RAW_PARAMS else decode_param(v) for k, v in params.items()}
        method = request.path_params["method"].lower()
        chat = params.get("chat_id")
        chat_id = chat_id_param(chat) if chat is not None else None
        offset = params.get("offset") if method == "getupdates" else None
        with self._lock:
            self._calls.append(Call(method, now, replica, None if offset is None else int(offset)))
        try:
            if request.path_params["token"] != self.token:
                raise ErrorReply(401, "Unauthorized")
            handler = self._handlers().get(method)
            if handler is None:
                raise ErrorReply(404, "Not Found")
            await self._maybe_fault(method, params, chat_id, now)
            if self.delays.get(method):
                await self._sleep(self.delays[method])
            result = await self._observed(method, handler, params, chat_id, now)
        except ErrorReply as r:
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

    async def _observed(
        self, method: str, handler: Handler, params: JSONDict, chat_id: Any, now: float
    ) -> Any:
        """Call ``handler`` and tell the observers (`add_observer`) how it answered."""
        try:
            result = await handler(params, chat_id, now)
        except ErrorReply as r:
            self._notify(method, params, None, r.status, r.description)
            raise
        self._notify(method, params, result, 200, "")
        return result

    def _notify(self, method: str, params: JSONDict, result: Any, status: int, text: str) -> None:
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            observer(method, params, result, status, text)

    def _handlers(self) -> dict[str, Handler]:
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
            "answerinlinequery": self._answer_inline_query,
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
            raise ErrorReply(
                429,
                f"Too Many Requests: retry after {f.retry_after}",
                {"retry_after": f.retry_after},
            )
        if kind == "timeout":
            # Telegram accepts (or refuses) the message on arrival; only the answer is lost.
            if f.timeout_delivers and method == "sendmessage":
                with contextlib.suppress(ErrorReply):
                    await self._send_message(params, chat_id, now)
                with self._lock:
                    record = self.attempts[-1]  # no await since _send_message recorded it
                    if record.outcome == "ok":
                        record.outcome, record.description = "timeout", "injected, delivered"
            else:
                self._record(method, params, chat_id, now, "timeout", "injected")
            await self._sleep(f.timeout_delay)
            raise ErrorReply(504, "Gateway Timeout")
        self._record(method, params, chat_id, now, "5xx", f"injected {status}")
        raise ErrorReply(status, "Internal Server Error")

    async def _true(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        return True

    async def _get_me(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        extra = {"can_join_groups": True, "can_read_all_group_messages": False}
        return {**self.bot_user, **extra, "supports_inline_queries": self.inline_mode}
