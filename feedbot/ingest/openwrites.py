"""Files a writer still has open, as the inotify watcher saw them: held back from the scan.

A file created or written in the index folder and not closed by its writer
(``IN_CLOSE_WRITE``) nor renamed in (``IN_MOVED_TO``) since may be half-written
however long its writer pauses (``scp`` over a slow link, an editor saving in
chunks), so the scan does not read it (`feedbot.ingest.decide.decide`, ``writing``).
A writer that never closes its file does not hold it for ever: once no write has
come for ``index.open_write_timeout`` seconds the file is released, with a
WARNING naming it and saying why, and read as it is (the settle rule applies).

Only what the watcher saw is held: a file found at start, or while there is no
inotify watcher, follows the settle rule (``index.settle_ms``). Times are
``time.monotonic()`` seconds, passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from feedbot.errors import shown_path
from feedbot.ingest.watch import Changes

__all__ = ["OpenWrites"]

log = logging.getLogger("feedbot.index")


class OpenWrites:
    """Names of files open for writing, each with the time of its last write event."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._last: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._last)

    def fold(self, batch: Changes, now: float) -> None:
        """Take in one batch of the watcher's events, received at ``now``."""
        if batch.reset:
            self._last.clear()
        for name in batch.ended:
            self._last.pop(name, None)
        for name in batch.writing:
            self._last[name] = now

    def forget(self) -> None:
        """The watcher stopped: nothing is known to be open any more (the settle rule)."""
        self._last.clear()

    def held(self, now: float) -> Collection[str]:
        """The files to leave unread now. One quiet for ``timeout`` seconds is released
        (logged at WARNING once) and no longer held until it is written again."""
        if not self._last:
            return ()
        deadline = now - self.timeout
        for name, last in [(n, t) for n, t in self._last.items() if t <= deadline]:
            del self._last[name]
            log.warning(
                "%s: still open for writing, with no write for %.1fs and no close; reading it "
                "as it is (index.open_write_timeout)",
                shown_path(name),
                now - last,
            )
        return frozenset(self._last)

    def next_release(self, now: float) -> float | None:
        """Seconds until the first held file is released; None when none is held."""
        if not self._last:
            return None
        return max(0.0, min(self._last.values()) + self.timeout - now)
