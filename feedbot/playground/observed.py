"""The Bot API emulator with an observer: every call the bot makes, and the answer, reported.

The emulator serves from its own thread (`FakeBotAPI.start_in_thread`: uvicorn
installs signal handlers only on the main thread, and the daemon's must stay);
each handled call is handed to a callback on the daemon's loop with
``call_soon_threadsafe``. It hooks on through the emulator's public
`FakeBotAPI.add_observer`, so whatever methods the emulator learns are observed too.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from feedbot.fakegram import FakeBotAPI, JSONDict, Observer

__all__ = ["ObservedBotAPI", "Observer"]

log = logging.getLogger(__name__)


class ObservedBotAPI(FakeBotAPI):
    """A `FakeBotAPI` that reports each call to ``observer`` on ``loop``."""

    def __init__(
        self, token: str, observer: Observer, loop: asyncio.AbstractEventLoop, **kwargs: Any
    ) -> None:
        super().__init__(token, **kwargs)
        self._observer = observer
        self._observer_loop = loop
        self.add_observer(self._report)

    def _report(self, method: str, params: JSONDict, result: Any, status: int, text: str) -> None:
        if self._observer_loop.is_closed():
            return
        try:
            self._observer_loop.call_soon_threadsafe(
                self._observer, method, params, result, status, text
            )
        except RuntimeError:  # the loop closed in between: the daemon is stopping
            log.debug("playground observer gone; %s not shown", method)
