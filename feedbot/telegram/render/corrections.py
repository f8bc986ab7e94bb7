"""Corrections of posts already sent — pure: what the messages should become, and how.

`decide` takes one owed correction (`feedbot.store.edits.Edit`), the article as it is
now and the post rendered for the chat, and returns a `Plan`: the steps (edit a
message, delete it, send a missing piece as a reply to the first) and the digest of
what the messages will show. A post that grew gets its extra pieces; one that shrank
has its surplus pieces deleted, or, past Telegram's 48 hours, edited to a short
"(see above)". A withdrawn article is marked (headline struck through, "withdrawn")
or deleted where Telegram still allows it and marked elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from feedbot.articles.i18n import N_, translator
from feedbot.articles.model import Entry
from feedbot.store.edits import Edit
from feedbot.telegram.render.messages import escape
from feedbot.telegram.send.outcomes import post_digest

__all__ = ["DELETE_WINDOW", "Plan", "Step", "decide", "render_see_above", "render_withdrawn"]

#: Bots may delete their messages for 48 hours; an hour is kept for requests in flight.
DELETE_WINDOW: Final = timedelta(hours=47)
DELETED: Final = "deleted"  # the digest of a post whose messages were all deleted
_MAX_HEADLINE: Final = 1000  # characters of the headline in a withdrawn mark


@dataclass(frozen=True, slots=True)
class Step:
    """One request: ``edit`` message ``message_id`` to ``text``; ``delete`` it (``text``
    is what it becomes where Telegram refuses); ``send`` ``text`` as a new piece."""

    kind: Literal["edit", "delete", "send"]
    message_id: int | None
    text: str
    piece: int | None = None  # which piece of the post ``text`` is (None: a mark, a filler)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do for one correction; no steps when the messages show it already."""

    steps: tuple[Step, ...]
    digest: str


def render_withdrawn(entry: Entry, language: str) -> str:
    """The mark of a withdrawn article: its headline struck through, and "withdrawn"."""
    headline = " ".join(entry.article.headline.split())
    if len(headline) > _MAX_HEADLINE:
        headline = headline[: _MAX_HEADLINE - 1].rstrip() + "…"
    label = translator(language)(N_("withdrawn"))
    return f"<s><b>{escape(headline)}</b></s>\n<i>{escape(label)}</i>"


def render_see_above(language: str) -> str:
    """What a surplus piece becomes when Telegram no longer lets the bot delete it."""
    return escape(translator(language)(N_("(see above)")))


def decide(
    edit: Edit,
    entry: Entry,
    removed: bool,
    post: Sequence[str],
    *,
    language: str,
    now: datetime,
) -> Plan:
    """The steps that bring the messages of ``edit`` to the article as it is now.

    ``post`` is the article rendered for the chat; ``removed``: the file is gone."""
    deletable = edit.sent_at is not None and now - edit.sent_at < DELETE_WINDOW
    mark = render_withdrawn(entry, language)
    if not removed:
        pieces: Sequence[str] = post
    elif edit.action == "edit":  # removed, and ``on_remove = "keep"``
        return Plan((), edit.rendered or "")
    elif edit.action == "delete" and deletable:
        if edit.rendered == DELETED:
            return Plan((), DELETED)
        steps = [
            Step("delete", m, mark if i == 0 else render_see_above(language))
            for i, m in enumerate(edit.message_ids)
        ]
        return Plan(tuple(steps), DELETED)
    else:
        mark_digest = post_digest([mark])
        if mark_digest == edit.rendered:
            return Plan((), mark_digest)
        steps = _steps(edit.message_ids, [mark], deletable, language)
        return Plan(tuple(Step(s.kind, s.message_id, s.text) for s in steps), mark_digest)
    digest = post_digest(pieces)
    if digest == edit.rendered:
        return Plan((), digest)
    return Plan(tuple(_steps(edit.message_ids, pieces, deletable, language)), digest)


def _steps(
    message_ids: Sequence[int], pieces: Sequence[str], deletable: bool, language: str
) -> list[Step]:
    steps: list[Step] = []
    for i, message_id in enumerate(message_ids):
        if i < len(pieces):
            steps.append(Step("edit", message_id, pieces[i], i))
        else:
            see_above = render_see_above(language)
            steps.append(Step("delete" if deletable else "edit", message_id, see_above))
    steps += [Step("send", None, pieces[i], i) for i in range(len(message_ids), len(pieces))]
    return steps
