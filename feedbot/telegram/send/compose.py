"""What one delivery sends: its messages and each message's other send arguments.

A post is rendered from the article as it is when its turn comes (in the delivery's
language and style), a digest from the articles it lists that still exist. Articles
are read through `Lookups` (once per short while for a whole broadcast) and rendered
posts are kept for the last few (article version, language, style), so thousands of
chats sent one article cost one read and a handful of renders.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import LinkPreviewOptions

from feedbot.articles.model import Entry
from feedbot.store.outbox import Delivery
from feedbot.telegram.send.lookups import Lookups
from feedbot.telegram.send.plan import DigestRenderer

__all__ = [
    "NO_PREVIEW",
    "Composed",
    "Composer",
    "Options",
    "Renderer",
    "Rendering",
    "no_extras",
]

Renderer = Callable[[Entry, str, str], Sequence[str]]  # (entry, language, style) -> pieces
# (entry, language, piece index, pieces) -> send_message's other arguments (`PostShape`)
Options = Callable[[Entry, str, int, int], dict[str, Any]]
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
RENDERED_KEPT = 64  # rendered posts kept (article version, language, style)


def no_extras(*_: Any) -> dict[str, Any]:
    """A message's other send arguments when nothing asks for more: no link preview."""
    return {"link_preview_options": NO_PREVIEW}


@dataclass(frozen=True, slots=True)
class Rendering:
    """How posts look: ``post`` renders one, ``options`` gives each message's other send
    arguments (its button, its preview), ``digest`` renders a digest (the sender's)."""

    post: Renderer
    options: Options = no_extras
    digest: DigestRenderer | None = None


@dataclass(frozen=True, slots=True)
class Composed:
    """The messages of one delivery, ready to send."""

    pieces: Sequence[str]
    entry: Entry | None  # the article of a post; None for a digest
    language: str
    options: Options

    def extras(self, index: int) -> dict[str, Any]:
        """Piece ``index``'s other send arguments (a digest's: no link preview)."""
        if self.entry is None:
            return no_extras()
        return self.options(self.entry, self.language, index, len(self.pieces))


class Composer:
    """Renders deliveries as ``rendering`` says; ``entry`` reads an article."""

    def __init__(
        self,
        entry: Callable[[str], Coroutine[Any, Any, Entry | None]],
        rendering: Rendering,
        *,
        default_language: str,
    ) -> None:
        self._entries: Lookups[Entry | None] = Lookups(entry)
        self._render = rendering.post
        self._render_digest = rendering.digest
        self._options = rendering.options
        self._default_language = default_language
        self._pieces: OrderedDict[tuple[str, str, str, str], Sequence[str]] = OrderedDict()

    def forget(self, article_ids: Collection[str]) -> None:
        """These articles changed or went away: read them again before the next send."""
        self._entries.forget(article_ids)

    async def compose(self, delivery: Delivery) -> Composed | None:
        """The messages of a post or a digest; None when nothing is left to send."""
        language = delivery.language or self._default_language
        if delivery.kind == "post":
            entry = await self._entries.get(delivery.article_id)
            if entry is None:
                return None
            pieces = self._post(entry, language, delivery.style)
            return Composed(pieces, entry, language, self._options)
        found = [e for e in [await self._entries.get(i) for i in delivery.payload] if e]
        if not found or self._render_digest is None:
            return None
        return Composed(self._render_digest(found, language), None, language, self._options)

    def _post(self, entry: Entry, language: str, style: str) -> Sequence[str]:
        key = (entry.article.id, language, style, entry.updated.isoformat())
        pieces = self._pieces.get(key)
        if pieces is None:
            pieces = self._pieces[key] = tuple(self._render(entry, language, style))
            if len(self._pieces) > RENDERED_KEPT:
                self._pieces.popitem(last=False)
        else:
            self._pieces.move_to_end(key)
        return pieces
