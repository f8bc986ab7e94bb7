"""The HTTP server: uvicorn on a socket bound first (so the port is known and a busy port
is one clear line), with the guards of `feedbot.http.guard` and uvloop when installed."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import Callable, Generator

import uvicorn
from starlette.types import ASGIApp

from feedbot.errors import FeedbotError
from feedbot.http.guard import HttpLimits, guarded_protocol

__all__ = ["HttpServer", "bind_server", "loop_factory"]


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host when embedded."""

    def __init__(self, config: uvicorn.Config, *, handle_signals: bool) -> None:
        super().__init__(config)
        self.handle_signals = handle_signals

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if self.handle_signals:
            with super().capture_signals():
                yield
        else:
            yield


class HttpServer:
    """A uvicorn server on a socket already bound (so the port is known and errors are clean)."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket) -> None:
        self.server = server
        self.socket = sock
        host, port = sock.getsockname()[:2]
        self.host: str = host
        self.port: int = port

    @property
    def url(self) -> str:
        """``http://host:port/`` of the bound socket."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    async def serve(self) -> None:
        """Serve until `stop` is called (or a signal, when the server handles them)."""
        try:
            await self.server.serve(sockets=[self.socket])
        finally:
            self.socket.close()

    def stop(self) -> None:
        """Ask the server to finish the requests in flight and return from `serve`."""
        self.server.should_exit = True


def bind_server(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    handle_signals: bool = False,
    access_log: bool = False,
    limits: HttpLimits | None = None,
) -> HttpServer:
    """Bind ``host:port`` (0 = any free port) and return the server to `serve` on it.

    Raises `FeedbotError` with one clear line when the port is in use or the
    address cannot be bound. ``limits`` (header timeout, connections) default to
    the settings' defaults; see `feedbot.http.guard`.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise FeedbotError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Inherited by every connection: asyncio sets it only on sockets made with
        # proto=IPPROTO_TCP (uvloop on all), and without it a response written as headers,
        # then body waits ~40 ms for the client's delayed ACK on a kept-alive connection.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise FeedbotError(f"cannot listen on {host}:{port}: port in use") from None
        raise FeedbotError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    sock.setblocking(False)
    config = uvicorn.Config(
        app,
        log_config=None,
        lifespan="off",
        access_log=access_log,
        server_header=False,
        date_header=False,  # `feedbot.http.app` sends it
        proxy_headers=False,
        http=guarded_protocol(limits or HttpLimits(header_timeout=10.0, max_connections=1000)),
    )
    return HttpServer(_Server(config, handle_signals=handle_signals), sock)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop factory when uvloop is installed (faster I/O), else None."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory
