"""What the main store's article changes owe the playground's chats — decided, not done.

The playground does not index the folder: the daemon does, into the main store, and
the playground compares what that store holds now with what it held at the last look
(`feedbot.store.sidecar.Sidecar.states`). `owed` is pure: the last look (a `Snapshot`)
and the rows now in, the articles to post and to correct out, by the rules the main
store applies to its own chats (`feedbot.store.articles`): an article is posted once it
is in the feed for the first time (new, or its scheduled date came); one in the feed
whose content changed, or that came back after a removal, owes its messages an edit;
one removed owes them the removal's correction.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from feedbot.store.sidecar import ArticleState

__all__ = ["Owed", "Snapshot", "owed"]

STATUS_BYTE = {"live": b"l", "scheduled": b"s", "removed": b"r"}
RECORD = 17  # a packed state: its status byte, then 16 bytes of its content hash's digest


def _id_key(article_id: str) -> tuple[int, int]:
    """128 bits of the id's BLAKE2b digest, as two 64-bit halves."""
    digest = hashlib.blake2b(article_id.encode(), digest_size=16).digest()
    return int.from_bytes(digest[:8]), int.from_bytes(digest[8:])


def _packed(state: ArticleState) -> bytes:
    """``state`` in `RECORD` bytes: its status, then 128 bits of its content hash's digest."""
    content = hashlib.blake2b(state.content_hash.encode(), digest_size=16).digest()
    return STATUS_BYTE[state.status] + content


class Snapshot:
    """The main store's articles at one look, compactly: each article's state (`_packed`),
    found by 128 bits of its id's digest, with no object per article (~33 bytes each,
    against ~300 for a dict of id → `ArticleState`). Two ids, or two content hashes, that
    share their digest are told apart no better than two contents that share a
    ``content_hash`` (itself a 128-bit BLAKE2b digest)."""

    __slots__ = ("_high", "_low", "_states")

    def __init__(self, rows: Iterable[tuple[str, ArticleState]] = ()) -> None:
        found = sorted((*_id_key(article_id), _packed(state)) for article_id, state in rows)
        self._high = array("Q", (high for high, _, _ in found))
        self._low = array("Q", (low for _, low, _ in found))
        self._states = b"".join(state for _, _, state in found)

    def __len__(self) -> int:
        return len(self._high)

    def get(self, article_id: str) -> bytes | None:
        """The packed state of ``article_id`` at that look, or None if it was not there."""
        high, low = _id_key(article_id)
        i = bisect_left(self._high, high)
        while i < len(self._high) and self._high[i] == high:
            if self._low[i] == low:
                return self._states[i * RECORD : (i + 1) * RECORD]
            i += 1
        return None


@dataclass(frozen=True, slots=True)
class Owed:
    """Article ids, each in the order the rows listed it."""

    posts: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.posts or self.changed or self.gone)


def owed(before: Snapshot, now: Iterable[tuple[str, ArticleState]]) -> Owed:
    """What changed from ``before`` to ``now`` (id, state rows) owes the chats."""
    posts: list[str] = []
    changed: list[str] = []
    gone: list[str] = []
    live, scheduled, removed = (STATUS_BYTE[s][0] for s in ("live", "scheduled", "removed"))
    for article_id, state in now:
        was = before.get(article_id)
        packed = _packed(state)
        if was == packed:
            continue
        if packed[0] == live:
            if was is None or was[0] == scheduled:
                posts.append(article_id)
            elif was[0] == removed or was[1:] != packed[1:]:
                changed.append(article_id)
        elif packed[0] == removed and was is not None and was[0] != removed:
            gone.append(article_id)
    return Owed(tuple(posts), tuple(changed), tuple(gone))
