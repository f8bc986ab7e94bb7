"""Limits on what one HTTP client may hold: time, bytes and connections, decided while reading.

uvicorn's httptools protocol has no timeout for a request whose headers never
complete, buffers a request line of any length, and counts connections against
``limit_concurrency`` only once their headers are in. `guarded_protocol` returns
a subclass that, per connection:

- closes it with 408 when the request line and headers are not complete within
  ``header_timeout`` seconds of the connection (or of the request's first byte on
  a kept-alive connection);
- answers 414 as soon as the request target passes `MAX_URL_BYTES`, and 431 as
  soon as the bytes of the head pass `MAX_HEAD_BYTES`, without buffering the rest.
  Only the request line and headers count: body bytes that arrive in the same
  read as the head do not (bodies have their own limit per route, `MAX_BODY_BYTES`
  unless the route is a `SizedRoute`, enforced by the web app);
- answers 503 and closes at once when ``max_connections`` are already open, so
  file descriptors stay free for the database and the index.

`raise_nofile_limit` lifts the soft descriptor limit to the hard one and says how
many connections fit below it with `RESERVED_FDS` kept back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from dataclasses import dataclass
from typing import Any

import httptools
from starlette.routing import Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEAD_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_URL_BYTES",
    "RESERVED_FDS",
    "HttpLimits",
    "SizedRoute",
    "guarded_protocol",
    "http_limits",
    "loads_json",
    "raise_nofile_limit",
]

log = logging.getLogger("feedbot.http")

MAX_URL_BYTES = 8 * 1024  # request target; longer gets 414
MAX_HEAD_BYTES = 16 * 1024 + MAX_URL_BYTES  # request line and headers; larger gets 431
MAX_BODY_BYTES = 64 * 1024  # a request body, on routes that do not say otherwise; larger: 413
MAX_JSON_DEPTH = 64  # arrays and objects inside each other in a JSON request body
RESERVED_FDS = 128  # descriptors never given to HTTP clients (database, index, watcher, logs)

_BRACKETS = frozenset(b"[]{}")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in _BRACKETS)
_OPENING = frozenset(b"[{")

_REASONS = {
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What one server allows: seconds to send a request head, connections open at once."""

    header_timeout: float
    max_connections: int


class SizedRoute(Route):
    """A Starlette route whose request bodies may take up to ``max_body`` bytes (413 past it),
    instead of `MAX_BODY_BYTES`."""

    def __init__(self, path: str, endpoint: Any, *, max_body: int, **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.max_body = max_body


class _Refused(Exception):
    """Raised from a parser callback to stop reading a request that is over a limit."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _refusal(status: int) -> bytes:
    reason = _REASONS[status]
    body = reason + b"\n"
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, reason),
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class _GuardedProtocol(HttpToolsProtocol):
    limits = HttpLimits(header_timeout=10.0, max_connections=1000)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading a request line and headers
        self._head_bytes = 0  # bytes of the unfinished head in the reads before this one
        self._parsed = 0  # bytes of the head's target and complete headers parsed so far
        self._read_body = 0  # body bytes the parser took out of the current read
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    # --- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self._refuse(503)
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if self._in_head:
            self._arm()
        self._read_body = 0
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as e:
            refused = e.__context__ if isinstance(e.__context__, _Refused) else None
            if refused is not None:
                self._refuse(refused.status)
            else:
                self._disarm()
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head:
            # The head is still unfinished, so what this read held after the bodies of
            # earlier requests on the connection is head (and at most the tail of one
            # pipelined head before it).
            self._head_bytes += len(data) - self._read_body
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(431)

    # --- parser callbacks -------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._parsed = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        if len(self.url) + len(url) > MAX_URL_BYTES:
            raise _Refused(414)
        self._parsed += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._parsed += len(name) + len(value) + 4  # ": " and CRLF
        if self._parsed > MAX_HEAD_BYTES:
            raise _Refused(431)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = self._parsed = 0
        self._disarm()
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._read_body += len(body)
        super().on_body(body)

    # --- timers and refusals ----------------------------------------------------------------

    def _arm(self) -> None:
        if self._timer is None and not self._closed:
            self._timer = self.loop.call_later(self.limits.header_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self._in_head and not self._closed:
            self._refuse(408)

    def _refuse(self, status: int) -> None:
        self._disarm()
        self._closed = True
        if not self.transport.is_closing():
            self.transport.write(_refusal(status))
            self.transport.close()


def guarded_protocol(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """An httptools protocol class for uvicorn's ``Config(http=...)`` enforcing ``limits``."""
    return type("GuardedHttpToolsProtocol", (_GuardedProtocol,), {"limits": limits})


def raise_nofile_limit() -> int:
    """Lift the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def http_limits(header_timeout: float, max_connections: int) -> HttpLimits:
    """The limits to serve with: the open-file limit raised, and connections capped below it."""
    soft = raise_nofile_limit()
    cap = max(16, soft - RESERVED_FDS)
    if max_connections > cap:
        log.warning(
            "http.max_connections %d is over what the open-file limit (%d) allows with %d "
            "kept back; using %d",
            max_connections,
            soft,
            RESERVED_FDS,
            cap,
        )
        max_connections = cap
    return HttpLimits(header_timeout=header_timeout, max_connections=max_connections)


def loads_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads(raw)``, refusing (`ValueError`) a document nested deeper than
    ``max_depth`` before parsing it, so no request body reaches a recursion limit."""
    # Outside strings only brackets nest: drop escaped backslashes and quotes, then the
    # strings (every other piece between quotes), then everything but brackets.
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    depth = 0
    for c in b"".join(text.split(b'"')[::2]).translate(None, _NOT_BRACKETS):
        if c in _OPENING:
            depth += 1
            if depth > max_depth:
                raise ValueError(f"JSON nested deeper than {max_depth} levels")
        else:
            depth -= 1
    try:
        return json.loads(raw)
    except RecursionError:  # not after the check above; a net should the caller be deep
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
