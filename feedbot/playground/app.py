"""The playground's HTTP side: the page, its JSON API and its event stream.

``/playground/`` serves three static files from the package (no build step). The
API under ``/playground/api/`` drives the emulator's control side as the simulated
user; every input is checked (types, sizes, JSON nesting, known chats, topics and
buttons) and a refusal is a 400 with ``{"error": "…"}`` and one log line. POSTs must
be JSON and, when the browser says where they come from, same-origin: a page on
another site cannot drive the bot. Every route answers 403 unless the request's
``Host`` is a loopback name or address, or ``http.host`` (any address when that is a
wildcard): a page on a name that its owner re-points at 127.0.0.1 (DNS rebinding)
is same-origin with itself but names the wrong host. ``/playground/api/events`` is a
server-sent event stream of what changes. ``inline`` asks the bot an inline query and
answers its results (plain text: the page draws them as text) once the bot answered;
``choose`` sends one into the chat via the bot (`feedbot.playground.inline`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources import files
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from feedbot.articles.i18n import CATALOG_LANGUAGES
from feedbot.http.guard import loads_json

if TYPE_CHECKING:
    from feedbot.playground.service import Playground

__all__ = ["host_allowed", "playground_routes"]

log = logging.getLogger("feedbot.playground")

MAX_BODY = 16 * 1024  # bytes of a JSON request
MAX_DATA = 64  # bytes of callback data, an inline result's id or offset, as Telegram
MAX_QUERY_BYTES = 4 * 256  # an inline query: at most 256 characters (checked after)
HEARTBEAT = 15.0  # seconds between keep-alive comments on the event stream
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
}


class BadRequest(Exception):
    """The request is malformed; the message is shown to the page."""


def _static() -> dict[str, bytes]:
    folder = files("feedbot.playground").joinpath("static")
    return {name: folder.joinpath(name).read_bytes() for name in STATIC}


def _json(body: object, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=SECURITY_HEADERS)


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site request (those always say where from)
    parts = urlsplit(origin)
    return parts.netloc == request.headers.get("host", "") and parts.scheme in ("http", "https")


def host_allowed(host: str | None, listen: str) -> bool:
    """Whether a request's ``Host`` header names the playground's server: a loopback name
    or address, ``listen`` (``http.host``), or any address when ``listen`` is a wildcard.
    No header at all is no browser's request (browsers always send it)."""
    if host is None:
        return True
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, _ = host[1:].partition("]")
        if not bracket:
            return False
    else:
        name = host.rpartition(":")[0] if ":" in host else host
    name = name.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    listen = listen.strip().lower().strip("[]")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return bool(name) and name == listen
    if address.is_loopback:
        return True
    try:
        bound = ipaddress.ip_address(listen)
    except ValueError:
        return False
    return bound == address or bound.is_unspecified


async def _body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise BadRequest("send application/json")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY:
            raise BadRequest(f"the request is larger than {MAX_BODY} bytes")
    try:
        data = loads_json(raw)
    except ValueError as e:  # UnicodeDecodeError included
        nested = "nested" in str(e)
        raise BadRequest(str(e) if nested else "the request is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("the request must be a JSON object")
    return data


def _int(data: dict[str, Any], key: str, *, optional: bool = False) -> int | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, str) and value.lstrip("-").isdigit() and len(value) < 20:
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or abs(value) >= 2**53:
        raise BadRequest(f"{key} must be an integer")
    return value


def _str(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no client sends one
        raise BadRequest(f"{key} is not valid Unicode text") from None
    if size > limit:
        raise BadRequest(f"{key} is longer than {limit} bytes")
    return value


def _language(data: dict[str, Any]) -> str:
    language = data.get("language", "en")
    if language not in CATALOG_LANGUAGES:
        raise BadRequest(f"language must be one of {', '.join(CATALOG_LANGUAGES)}")
    return str(language)


Handler = Callable[[Request], Awaitable[Response]]


def _guarded(playground: Playground, handler: Handler) -> Handler:
    """Answer 400 on bad input, the refusal's status (400; 429: too many waiting) on what
    the playground refuses, 503 while it is down."""
    from feedbot.playground.chats import PlaygroundError

    async def guarded(request: Request) -> Response:
        if request.method == "POST" and not _same_origin(request):
            return _json({"error": "cross-origin requests are refused"}, 403)
        try:
            return await handler(request)
        except BadRequest as e:
            log.info("playground: 400 for %s: %s", request.url.path, e)
            return _json({"error": str(e)}, 400)
        except PlaygroundError as e:
            return _json({"error": str(e)}, 503 if not playground.running else e.status)

    return guarded


def _on_own_host(listen: str, handler: Handler) -> Handler:
    """Answer 403 when the request's Host is not the playground's server."""

    async def checked(request: Request) -> Response:
        if not host_allowed(request.headers.get("host"), listen):
            log.info("playground: 403 for Host %r", request.headers.get("host", "")[:100])
            return _json({"error": "open the playground by its loopback address"}, 403)
        return await handler(request)

    return checked


def playground_routes(playground: Playground) -> list[BaseRoute]:
    """The routes of ``/playground`` (see the module docstring)."""
    static = _static()
    listen = playground.settings.http.host

    async def redirect(request: Request) -> Response:
        return RedirectResponse("/playground/", status_code=308)

    async def asset(request: Request) -> Response:
        name = request.url.path.removeprefix("/playground/") or "index.html"
        return Response(static[name], media_type=STATIC[name], headers=SECURITY_HEADERS)

    async def state(request: Request) -> Response:
        language = _language(dict(request.query_params))
        bot = playground.emulator.bot_user if playground.emulator is not None else {}
        return _json(
            {
                "running": playground.running,
                "problem": playground.problem,
                "bot": {"name": bot.get("first_name"), "username": bot.get("username")},
                "chats": playground.describe(),
                "commands": playground.commands(language),
                "languages": list(CATALOG_LANGUAGES),
                "refusals": playground.log.refusals,
            }
        )

    async def messages(request: Request) -> Response:
        query = dict(request.query_params)
        chat = playground.chat(_int(query, "chat") or 0)
        thread = _int(query, "thread", optional=True)
        found = playground.log.messages(chat.id, thread)
        return _json({"messages": [m.to_json() for m in found]})

    async def send(request: Request) -> Response:
        data = await _body(request)
        chat, thread = _int(data, "chat") or 0, _int(data, "thread", optional=True)
        text = _str(data, "text", 4 * 4096)
        logged = playground.send(chat, thread, text, _language(data))
        return _json({"message": logged.to_json()})

    async def press(request: Request) -> Response:
        data = await _body(request)
        chat, message_id = _int(data, "chat") or 0, _int(data, "message") or 0
        playground.press(chat, message_id, _str(data, "data", MAX_DATA), _language(data))
        return _json({"ok": True})

    async def role(request: Request) -> Response:
        data = await _body(request)
        playground.set_role(_int(data, "chat") or 0, _str(data, "role", 32))
        return _json({"ok": True})

    async def inline(request: Request) -> Response:
        data = await _body(request)
        chat, thread = _int(data, "chat") or 0, _int(data, "thread", optional=True)
        query = _str(data, "query", MAX_QUERY_BYTES)
        offset = _str(data, "offset", MAX_DATA) if data.get("offset") is not None else ""
        found = await playground.inline.ask(chat, thread, query, offset, _language(data))
        return _json(found)

    async def choose(request: Request) -> Response:
        data = await _body(request)
        query, result = _str(data, "query", MAX_DATA), _str(data, "result", MAX_DATA)
        return _json({"message": playground.inline.choose(query, result).to_json()})

    async def events(request: Request) -> Response:
        queue = playground.log.listen()
        if queue is None:
            return _json({"error": "too many pages are listening"}, 503)

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 2000\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(queue.get(), HEARTBEAT)
                    except TimeoutError:
                        yield b": ping\n\n"
                        continue
                    if event is None:
                        return
                    data = json.dumps(event.data, ensure_ascii=False)
                    yield f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n".encode()
            finally:
                playground.log.unlisten(queue)

        headers = {**SECURITY_HEADERS, "x-accel-buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    api = [("state", state, "GET"), ("messages", messages, "GET"), ("events", events, "GET")]
    api += [("send", send, "POST"), ("press", press, "POST"), ("role", role, "POST")]
    api += [("inline", inline, "POST"), ("choose", choose, "POST")]
    page = _on_own_host(listen, asset)
    routes: list[BaseRoute] = [
        Route("/playground", _on_own_host(listen, redirect), methods=["GET", "HEAD"])
    ]
    routes += [Route(f"/playground/{name}", page, methods=["GET", "HEAD"]) for name in STATIC]
    routes.append(Route("/playground/", page, methods=["GET", "HEAD"]))
    routes += [
        Route(
            f"/playground/api/{name}",
            _on_own_host(listen, _guarded(playground, fn)),
            methods=[method],
        )
        for name, fn, method in api
    ]
    return routes
