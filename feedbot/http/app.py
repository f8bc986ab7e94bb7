"""The web app: the rendered site with HTTP caching, ``/healthz``, ``/metrics`` — and uvicorn.

Site paths are answered by a small ASGI layer in front of Starlette's router: a
dict lookup in `Site` and a header list built once per rendered document, so
``GET /feed.atom`` costs little more than the write. Everything else (health,
metrics, the routes the daemon adds) goes through Starlette, after its body is
judged against the route's limit (`MAX_BODY_BYTES`, or a `SizedRoute`'s own; 413
past it). Only rendered bytes are served: nothing is ever read from disk, whatever
the path says.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from email.utils import formatdate
from typing import Any, Protocol, TypeVar
from weakref import WeakKeyDictionary

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from feedbot.config import HttpSettings
from feedbot.errors import StoreError
from feedbot.http.body import read_body
from feedbot.http.conditional import (
    Headers,
    Prepared,
    accepts_gzip,
    etag_matches,
    not_modified_since,
)
from feedbot.http.guard import MAX_BODY_BYTES, SizedRoute
from feedbot.publish.feeds import site_url
from feedbot.publish.pages import render_not_found
from feedbot.publish.results import Asked, Searches
from feedbot.publish.site import MISS, Resource, Site

__all__ = ["HealthCheck", "create_app", "route_label"]

HealthCheck = Callable[[], tuple[dict[str, Any], bool]]
# Runs ``Site.get(path)`` off the event loop (the daemon: on a database thread).
A = TypeVar("A")
K = TypeVar("K")
R = TypeVar("R")


class Offload(Protocol):
    """Runs ``fn(arg)`` off the event loop (on a database thread)."""

    def __call__(self, fn: Callable[[A], R], arg: A, /) -> Awaitable[R]: ...


MAX_HEADER_BYTES = 16 * 1024  # larger request headers get 431 (whatever the HTTP parser allows)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"})
# Bytes that never occur in a path we render: dot segments, encoded dots/slashes/backslashes/NUL.
_SUSPICIOUS = (b"..", b"\\", b"\x00", b"//", b"%2e", b"%2f", b"%5c", b"%00")
_counters: WeakKeyDictionary[CollectorRegistry, Counter] = WeakKeyDictionary()


def route_label(path: str) -> str:
    """The route template of a site path, for metrics (bounded, unlike raw paths)."""
    if path in ("/", "/index.html", "/feed.atom", "/feed.rss", "/feed.json"):
        return path
    for prefix, template in (
        ("/archive/", "/archive/{n}.{format}"),
        ("/page/", "/page/{n}.html"),
        ("/articles/", "/articles/{id}.html"),
    ):
        if path.startswith(prefix):
            return template
    return "other"


def _counter(registry: CollectorRegistry) -> Counter:
    counter = _counters.get(registry)
    if counter is None:
        counter = Counter(
            "feedbot_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        _counters[registry] = counter
    return counter


class _SiteLayer:
    """ASGI layer answering every path except Starlette's own routes from the `Site`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        site: Site,
        http: HttpSettings,
        counter: Counter,
        routes: Sequence[BaseRoute],
        offload: Offload | None = None,
        searches: Searches | None = None,
    ) -> None:
        self.app = app
        self.site = site
        self.searches = searches
        self.offload = offload
        self.counter = counter
        # Routes with a fixed path are found by a dict lookup; the others by matching.
        self.exact: dict[str, BaseRoute] = {
            str(r.path): r for r in routes if isinstance(r, Route) and "{" not in r.path
        }
        self.patterns = [r for r in routes if not (isinstance(r, Route) and r.path in self.exact)]
        max_age = http.cache_max_age
        feed = site.feed
        self.common: Headers = [
            (b"cache-control", f"public, max-age={max_age}".encode()),
            (b"vary", b"Accept-Encoding"),
        ]
        self.feed_links: dict[str, Headers] = {}
        hub = feed.websub_hub
        if hub:
            for path in ("feed.atom", "feed.rss", "feed.json"):
                link = f'<{hub}>; rel="hub", <{site_url(feed, path)}>; rel="self"'
                self.feed_links[path] = [(b"link", link.encode("utf-8"))]
        self.prepared: dict[str, Prepared] = {}
        self.not_found = render_not_found(feed)
        self.children: dict[tuple[str, str, int], Any] = {}
        self.second = 0  # the second `date` names
        self.date = b""

    def now(self) -> int:
        """The current second, and `date` set to its HTTP date (made once a second)."""
        second = int(time.time())
        if second != self.second:
            self.second, self.date = second, formatdate(second, usegmt=True).encode("ascii")
        return second

    def dated(self, send: Send) -> Send:
        """``send`` adding the ``Date`` header (ours, not uvicorn's once-a-second copy, so
        a Last-Modified is never later than the Date it is sent with)."""

        async def dated(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.now()
                headers = [*message.get("headers", ()), (b"date", self.date)]
                message = {**message, "headers": headers}
            await send(message)

        return dated

    def count(self, route: str, method: str, status: int) -> None:
        key = (route, method, status)
        child = self.children.get(key)
        if child is None:
            child = self.counter.labels(route, method if method in _METHODS else "other", status)
            self.children[key] = child
        child.inc()

    def _starlette_route(self, scope: Scope) -> BaseRoute | None:
        exact = self.exact.get(scope["path"])
        if exact is not None:
            return exact
        for route in self.patterns:
            matched, _ = route.matches(scope)
            if matched.value:
                return route
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self.dated(send)
        if sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            status = await self._respond(
                send, 431, [], b"Request Header Fields Too Large\n", "GET", b"text/plain"
            )
            self.count("other", scope["method"], status)
            return
        route = self._starlette_route(scope)
        if route is not None:
            label = str(getattr(route, "path", "other"))
            max_body = route.max_body if isinstance(route, SizedRoute) else MAX_BODY_BYTES
            body = await read_body(scope, receive, max_body)
            if body is None:
                status = await self._respond(
                    send,
                    413,
                    [(b"connection", b"close")],
                    b"Content Too Large\n",
                    scope["method"],
                    b"text/plain",
                )
                self.count(label, scope["method"], status)
                return
            await self._forward(label, scope, body.replay(receive), send)
            return
        status = await self._serve(scope, send)
        self.count(route_label(scope["path"]), scope["method"], status)

    async def _forward(self, label: str, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.count(label, scope["method"], status)

    async def _serve(self, scope: Scope, send: Send) -> int:
        method = scope["method"]
        if method != "GET" and method != "HEAD":
            return await self._respond(
                send,
                405,
                [(b"allow", b"GET, HEAD")],
                b"Method Not Allowed\n",
                method,
                b"text/plain",
            )
        raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw = raw.partition(b"?")[0]
        if not raw.startswith(b"/"):  # `GET *` (asterisk form) or an empty target
            return await self._respond(send, 400, [], b"Bad Request\n", method, b"text/plain")
        lowered = raw.lower()
        if any(bad in lowered for bad in _SUSPICIOUS):
            return await self._respond(send, 400, [], b"Bad Request\n", method, b"text/plain")
        path = raw[1:].decode("latin-1") or "index.html"
        asked = None
        if self.searches is not None:
            asked = self.searches.asked(path, scope.get("query_string", b"").decode("latin-1"))
        resource: Resource | None
        try:
            if asked is not None:
                resource = await self._search(asked)
                path = asked.key
            else:
                resource = await self._document(path)
        except StoreError:  # the database is unreachable or gone: logged by the store
            headers = [(b"retry-after", b"5")]
            body = b"Service Unavailable: the database cannot be read\n"
            return await self._respond(send, 503, headers, body, method, b"text/plain")
        prepared = self.prepared.get(path)
        if resource is None:
            return await self._respond(send, 404, [], self.not_found, method)
        if prepared is None or prepared.resource is not resource:
            if len(self.prepared) > 4096:
                self.prepared.clear()
            prepared = Prepared(resource, self.common, self.feed_links.get(path, []))
            self.prepared[path] = prepared
        return await self._conditional(scope, send, prepared, method)

    async def _document(self, path: str) -> Resource | None:
        """The site's document at ``path``: cached, or rendered off the loop."""
        return await self._cached_or(self.site.peek, self.site.get, path)

    async def _search(self, asked: Asked) -> Resource:
        """The answer to a search (`feedbot.publish.results`): cached, or found off the loop."""
        assert self.searches is not None
        return await self._cached_or(self.searches.peek, self.searches.get, asked)

    async def _cached_or(self, peek: Callable[[K], object], get: Callable[[K], R], key: K) -> R:
        """What ``peek`` has cached for ``key`` (never blocking), else ``get`` it off the
        loop (in place without an offload: in-memory sources)."""
        found = peek(key)
        if found is not MISS:
            return found  # type: ignore[return-value]  # peek answers what get would
        if self.offload is not None:
            return await self.offload(get, key)
        return get(key)

    async def _conditional(self, scope: Scope, send: Send, prepared: Prepared, method: str) -> int:
        inm = ims = None
        gz = False
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                inm = value
            elif name == b"if-modified-since":
                ims = value
            elif name == b"accept-encoding":
                gz = accepts_gzip(value)
        resource = prepared.resource
        # A Last-Modified later than the Date (the bytes changed twice within one second,
        # see `feedbot.publish.site`) is left out, and not compared, until that second comes.
        early = prepared.modified_at > self.now()
        if inm is not None:
            fresh = etag_matches(inm, prepared.etags)
        else:
            fresh = (
                ims is not None and not early and not_modified_since(ims, resource.last_modified)
            )
        if fresh:
            headers = prepared.not_modified[1] if gz else prepared.not_modified[0]
            if early:
                headers = [h for h in headers if h[0] != b"last-modified"]
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return 304
        headers, body = (prepared.gzip, resource.gzipped) if gz else (prepared.plain, resource.body)
        if early:
            headers = [h for h in headers if h[0] != b"last-modified"]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        return 200

    async def _respond(
        self,
        send: Send,
        status: int,
        headers: Headers,
        body: bytes,
        method: str,
        content_type: bytes = b"text/html; charset=utf-8",
    ) -> int:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-cache"),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
        return status


def create_app(
    site: Site,
    http: HttpSettings,
    *,
    registry: CollectorRegistry | None = None,
    health: HealthCheck | None = None,
    routes: Sequence[BaseRoute] = (),
    offload: Offload | None = None,
    searches: Searches | None = None,
) -> Starlette:
    """The Starlette app serving ``site``, ``/healthz``, ``/metrics`` and the extra ``routes``
    (``http`` gives the cache lifetime; the feed's links come from ``site.feed``).

    ``offload`` runs a document's rendering off the loop when the site's source is a
    database (without it, a miss renders in place: fine for in-memory sources)."""
    registry = registry if registry is not None else CollectorRegistry()

    async def healthz(request: Request) -> Response:
        """Liveness and readiness as JSON; 503 when not healthy."""
        body, ok = health() if health is not None else ({"status": "ok"}, True)
        return JSONResponse(
            body, status_code=200 if ok else 503, headers={"cache-control": "no-store"}
        )

    async def metrics(request: Request) -> Response:
        """Prometheus text exposition of ``registry``."""
        return Response(
            generate_latest(registry),
            media_type=CONTENT_TYPE_LATEST,
            headers={"cache-control": "no-store"},
        )

    all_routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET", "HEAD"]),
        *routes,
    ]
    layer = Middleware(
        _SiteLayer,
        site=site,
        http=http,
        counter=_counter(registry),
        routes=all_routes,
        offload=offload,
        searches=searches,
    )
    return Starlette(routes=all_routes, middleware=[layer])
