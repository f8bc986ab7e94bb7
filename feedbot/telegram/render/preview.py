"""`feedbot preview`: a post as Telegram will show it, for the terminal — pure.

Each piece is the text Telegram displays, with its entities turned into terminal
styles (bold, italic, underline, strike-through, code, links with their address)
and the inline button, when there is one, drawn under the last piece.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from feedbot.telegram.render.messages import utf16_offsets
from feedbot.telegram.render.parse_html import parse_telegram_html

__all__ = ["terminal_pieces"]

_STYLES = {
    "bold": "bold",
    "italic": "italic",
    "underline": "underline",
    "strikethrough": "strike",
    "spoiler": "reverse",
    "code": "cyan",
    "pre": "cyan",
    "blockquote": "dim",
    "expandable_blockquote": "dim",
}


def terminal_pieces(pieces: Sequence[str], button: str | None = None) -> list[Text]:
    """The post's pieces as styled terminal text; ``button``: its label, under the last."""
    shown: list[Text] = []
    for number, html in enumerate(pieces, 1):
        text, entities = parse_telegram_html(html)
        at = utf16_offsets(text)
        out = Text(text)
        for e in entities:
            start, end = at[e.offset], at[e.offset + e.length]
            if e.type == "text_link":
                out.stylize(f"underline blue link {e.url}", start, end)
            elif e.type in _STYLES:
                out.stylize(_STYLES[e.type], start, end)
        if len(pieces) > 1:
            out = Text(f"── message {number} of {len(pieces)} ──\n", style="dim") + out
        if button is not None and number == len(pieces):
            out += Text(f"\n[ {button} ]", style="bold reverse")
        shown.append(out)
    return shown
