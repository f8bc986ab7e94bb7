"""What the main store's article changes owe the playground's chats — decided, not done.

The playground does not index the folder: the daemon does, into the main store, and
the playground compares what that store holds now with what it held at the last look
(`feedbot.store.sidecar.Sidecar.states`). `look` is pure: the last look (a `Snapshot`)
and the rows now in, in one pass, the articles to post and to correct out (`owed`) and a
snapshot of the rows for the next look, by the rules the main store applies to its own
chats (`feedbot.store.articles`): an article is posted once it is in the feed for the
first time (new, or its scheduled date came); one in the feed whose content changed,
or that came back after a removal, owes its messages an edit; one removed owes them
the removal's correction.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from feedbot.store.sidecar import ArticleState

__all__ = ["Owed", "Snapshot", "look", "owed"]

STATUS_BYTE = {"live": b"l", "scheduled": b"s", "removed": b"r"}
LIVE, SCHEDULED, REMOVED = (STATUS_BYTE[s][0] for s in ("live", "scheduled", "removed"))
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
        self._high, self._low, self._states = array("Q"), array("Q"), b""
        self._take(((_id_key(i), _packed(s)) for i, s in rows))

    def _take(self, keyed: Iterable[tuple[tuple[int, int], bytes]]) -> None:
        """Hold ``keyed`` ((id key, packed state) pairs), ordered by the keys' high halves."""
        high, low, states = array("Q"), array("Q"), bytearray()
        for (h, lo), packed in keyed:
            high.append(h)
            low.append(lo)
            states += packed
        order = sorted(range(len(high)), key=high.__getitem__)
        self._high = array("Q", (high[i] for i in order))
        self._low = array("Q", (low[i] for i in order))
        self._states = b"".join(states[i * RECORD : (i + 1) * RECORD] for i in order)

    def __len__(self) -> int:
        return len(self._high)

    def get(self, article_id: str) -> bytes | None:
        """The packed state of ``article_id`` at that look, or None if it was not there."""
        return self._find(_id_key(article_id))

    def _find(self, key: tuple[int, int]) -> bytes | None:
        high, low = key
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


def look(
    before: Snapshot | None, now: Iterable[tuple[str, ArticleState]]
) -> tuple[Owed | None, Snapshot]:
    """One pass over ``now`` (id, state rows): what changed from ``before`` owes the chats
    (None without ``before``: a first look owes nothing), and the snapshot of ``now``."""
    posts: list[str] = []
    changed: list[str] = []
    gone: list[str] = []

    def keyed() -> Iterable[tuple[tuple[int, int], bytes]]:
        """Each row's (id key, packed state), sorting the row into what it owes on the way."""
        for article_id, state in now:
            key, packed = _id_key(article_id), _packed(state)
            was = None if before is None else before._find(key)
            if before is None or was == packed:
                pass
            elif packed[0] == LIVE:
                if was is None or was[0] == SCHEDULED:
                    posts.append(article_id)
                elif was[0] == REMOVED or was[1:] != packed[1:]:
                    changed.append(article_id)
            elif packed[0] == REMOVED and was is not None and was[0] != REMOVED:
                gone.append(article_id)
            yield key, packed

    snapshot = Snapshot()
    snapshot._take(keyed())
    due = None if before is None else Owed(tuple(posts), tuple(changed), tuple(gone))
    return due, snapshot


def owed(before: Snapshot, now: Iterable[tuple[str, ArticleState]]) -> Owed:
    """What changed from ``before`` to ``now`` (id, state rows) owes the chats."""
    due, _ = look(before, now)
    assert due is not None
    return due
