"""Request bodies judged before the app runs: a declared length against the route's
limit, a chunked body read up to it and replayed to the app as if off the wire."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope

__all__ = ["Body", "read_body"]


class Body:
    """A request body read ahead of the app, handed to it as if it came off the wire."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: list[Message]) -> None:
        self.chunks = chunks

    def replay(self, receive: Receive) -> Receive:
        if not self.chunks:
            return receive
        pending = list(self.chunks)

        async def replayed() -> Message:
            return pending.pop(0) if pending else await receive()

        return replayed


async def read_body(scope: Scope, receive: Receive, limit: int) -> Body | None:
    """The body when it fits in ``limit`` bytes (None: it does not, answer 413).

    A declared ``Content-Length`` is judged without reading; a body without one
    (chunked) is read here, up to ``limit``, and replayed to the app."""
    length: bytes | None = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = True
    if length is not None:
        return Body([]) if length.isdigit() and int(length) <= limit else None
    if not chunked:
        return Body([])
    chunks: list[Message] = []
    size = 0
    while True:
        message = await receive()
        chunks.append(message)
        if message["type"] != "http.request":
            return Body(chunks)
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return Body(chunks)
