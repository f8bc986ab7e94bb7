"""What the main store's article changes owe the playground's chats — decided, not done.

The playground does not index the folder: the daemon does, into the main store, and
the playground compares what that store holds now with what it held at the last look
(`feedbot.store.sidecar.Sidecar.states`). `owed` is pure: two snapshots in, the
articles to post and to correct out, by the rules the main store applies to its own
chats (`feedbot.store.articles`): an article is posted once it is in the feed for the
first time (new, or its scheduled date came); one in the feed whose content changed,
or that came back after a removal, owes its messages an edit; one removed owes them
the removal's correction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from feedbot.store.sidecar import ArticleState

__all__ = ["Owed", "owed"]


@dataclass(frozen=True, slots=True)
class Owed:
    """Article ids, each in the order the snapshot listed it."""

    posts: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.posts or self.changed or self.gone)


def owed(before: Mapping[str, ArticleState], now: Mapping[str, ArticleState]) -> Owed:
    """What changed from ``before`` to ``now`` owes the chats."""
    posts: list[str] = []
    changed: list[str] = []
    gone: list[str] = []
    for article_id, state in now.items():
        was = before.get(article_id)
        if was == state:
            continue
        if state.status == "live":
            if was is None or was.status == "scheduled":
                posts.append(article_id)
            elif was.status == "removed" or was.content_hash != state.content_hash:
                changed.append(article_id)
        elif state.status == "removed" and was is not None and was.status != "removed":
            gone.append(article_id)
    return Owed(tuple(posts), tuple(changed), tuple(gone))
