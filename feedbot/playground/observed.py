"""The Bot API emulator with an observer: every call the bot makes, and the answer, reported.

The emulator serves from its own thread (`FakeBotAPI.start_in_thread`: uvicorn
installs signal handlers only on the main thread, and the daemon's must stay);
each handled call is handed to a callback on the daemon's loop with
``call_soon_threadsafe``. Nothing of the emulator changes but its table of handlers,
so whatever methods it learns are observed too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from feedbot.fakegram import FakeBotAPI, _Reply

__all__ = ["ObservedBotAPI", "Observer"]

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
Handler = Callable[[JSONDict, Any, float], Awaitable[Any]]
# (method, params, result, status, description), called on the observer's loop.
Observer = Callable[[str, JSONDict, Any, int, str], None]


class ObservedBotAPI(FakeBotAPI):
    """A `FakeBotAPI` that reports each call to ``observer`` on ``loop``."""

    def __init__(
        self, token: str, observer: Observer, loop: asyncio.AbstractEventLoop, **kwargs: Any
    ) -> None:
        super().__init__(token, **kwargs)
        self._observer = observer
        self._observer_loop = loop

    def _handlers(self) -> dict[str, Handler]:
        return {name: self._observed(name, h) for name, h in super()._handlers().items()}

    def _report(self, method: str, params: JSONDict, result: Any, status: int, text: str) -> None:
        if self._observer_loop.is_closed():
            return
        try:
            self._observer_loop.call_soon_threadsafe(
                self._observer, method, params, result, status, text
            )
        except RuntimeError:  # the loop closed in between: the daemon is stopping
            log.debug("playground observer gone; %s not shown", method)

    def _observed(self, method: str, handler: Handler) -> Handler:
        async def call(params: JSONDict, chat_id: Any, now: float) -> Any:
            try:
                result = await handler(params, chat_id, now)
            except _Reply as r:
                self._report(method, params, None, r.status, r.description)
                raise
            self._report(method, params, result, 200, "")
            return result

        return call
