"""A strict parser of Telegram's HTML parse mode, for the Bot API emulator.

`parse_telegram_html` accepts what Telegram accepts for ``parse_mode=HTML`` and
raises `TelegramHTMLError` on what it rejects (unknown tags, unclosed or
misnested tags, entities other than ``&lt; &gt; &amp; &quot;`` and numeric
ones). It is at least as strict as Telegram: a bare ``>`` is rejected too.
The Bot API emulator (`feedbot.fakegram`) validates every message with
it, so the tests, the benchmarks and the playground all see Telegram's refusals;
the message tests read posts back through it. feedbot's own posts only escape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from feedbot.telegram.render.messages import utf16_len

__all__ = [
    "MessageEntity",
    "TelegramHTMLError",
    "parse_telegram_html",
]

_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]*);")
_TAG_RE = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)((?:\s+[^\s=>]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?)*)\s*>"
)
_ATTR_RE = re.compile(r"([^\s=>]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")

# tag -> entity type; attributes are checked in `_open`.
_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


class TelegramHTMLError(ValueError):
    """Telegram would answer "Bad Request: can't parse entities: <message>"."""


@dataclass(frozen=True, slots=True)
class MessageEntity:
    """One formatting entity; ``offset`` and ``length`` are in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, object]:
        """The Bot API's JSON form."""
        d: dict[str, object] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            d["url"] = self.url
        if self.language is not None:
            d["language"] = self.language
        return d


def _decode(raw: str, where: int) -> str:
    """Decode the entities of a text run or attribute value; reject bare ``& < >``."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == "&":
            m = _ENTITY_RE.match(raw, i)
            if m is None:
                raise TelegramHTMLError(f"Unescaped '&' at offset {where + i}")
            name = m.group(1)
            if name.startswith("#"):
                code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
                if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise TelegramHTMLError(f"Invalid character entity at offset {where + i}")
                out.append(chr(code))
            elif name in _NAMED:
                out.append(_NAMED[name])
            else:
                raise TelegramHTMLError(f'Unsupported HTML entity "&{name};" at offset {where + i}')
            i = m.end()
        elif c in "<>":
            raise TelegramHTMLError(f"Unescaped '{c}' at offset {where + i}")
        else:
            out.append(c)
            i += 1
    return "".join(out)


@dataclass(slots=True)
class _Open:
    tag: str
    type: str
    start: int  # UTF-16 offset
    url: str | None = None
    language: str | None = None


def _attrs(raw: str, where: int) -> dict[str, str]:
    attrs: dict[str, str] = {}
    for m in _ATTR_RE.finditer(raw):
        value = m.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        attrs[m.group(1).lower()] = _decode(value, where)
    return attrs


def _open(tag: str, attrs: dict[str, str], stack: list[_Open], pos: int, where: int) -> _Open:
    """The entity a start tag opens, after checking attributes and nesting."""
    kind = _TAGS.get(tag)
    if kind is None:
        raise TelegramHTMLError(f'Unsupported start tag "{tag}" at offset {where}')
    allowed: set[str] = set()
    url = language = None
    if tag == "a":
        allowed = {"href"}
        url = attrs.get("href", "")
        if not url:
            raise TelegramHTMLError(f'Tag "a" must have attribute "href" at offset {where}')
        if any(o.tag == "a" for o in stack):
            raise TelegramHTMLError(f"Nested links are not allowed at offset {where}")
    elif tag == "span":
        allowed = {"class"}
        if attrs.get("class") != "tg-spoiler":
            raise TelegramHTMLError(f'Tag "span" must have class "tg-spoiler" at offset {where}')
    elif tag == "tg-emoji":
        allowed = {"emoji-id"}
        if not attrs.get("emoji-id", "").isdigit():
            raise TelegramHTMLError(f'Tag "tg-emoji" must have attribute "emoji-id" at {where}')
    elif tag == "blockquote":
        allowed = {"expandable"}
        if "expandable" in attrs:
            kind = "expandable_blockquote"
        if any(o.tag == "blockquote" for o in stack):
            raise TelegramHTMLError(f"Nested blockquotes are not allowed at offset {where}")
    elif tag == "code":
        allowed = {"class"}
        cls = attrs.get("class", "")
        if cls.startswith("language-") and stack and stack[-1].tag == "pre":
            stack[-1].language = cls.removeprefix("language-")
    unknown = set(attrs) - allowed
    if unknown:
        raise TelegramHTMLError(f'Unsupported attribute "{sorted(unknown)[0]}" at offset {where}')
    for o in stack:
        if o.tag in ("code", "pre") and not (o.tag == "pre" and tag == "code" and stack[-1] is o):
            raise TelegramHTMLError(f'Tag "{tag}" is not allowed inside "{o.tag}" at {where}')
    return _Open(tag, kind, pos, url, language)


def parse_telegram_html(s: str) -> tuple[str, list[MessageEntity]]:
    """Parse Telegram HTML into (visible text, entities); raise `TelegramHTMLError`."""
    text: list[str] = []
    pos = 0  # UTF-16 length of the text so far
    stack: list[_Open] = []
    entities: list[MessageEntity] = []
    i = 0
    while i < len(s):
        lt = s.find("<", i)
        end = len(s) if lt < 0 else lt
        if end > i:
            chunk = _decode(s[i:end], i)
            text.append(chunk)
            pos += utf16_len(chunk)
        if lt < 0:
            break
        where = lt
        m = _TAG_RE.match(s, lt)
        if m is None:
            raise TelegramHTMLError(f"Unsupported start tag at offset {where}")
        closing, tag, raw_attrs = m.group(1) == "/", m.group(2).lower(), m.group(3)
        if closing:
            if raw_attrs.strip():
                raise TelegramHTMLError(f"Unexpected attributes in end tag at offset {where}")
            if not stack:
                raise TelegramHTMLError(f'Unexpected end tag "{tag}" at offset {where}')
            top = stack.pop()
            if top.tag != tag:
                raise TelegramHTMLError(
                    f'Unmatched end tag at offset {where}, expected "</{top.tag}>", '
                    f'found "</{tag}>"'
                )
            if pos > top.start:
                if top.type == "code" and stack and stack[-1].tag == "pre":
                    pass  # the language goes on the enclosing pre
                else:
                    entities.append(
                        MessageEntity(top.type, top.start, pos - top.start, top.url, top.language)
                    )
        else:
            stack.append(_open(tag, _attrs(raw_attrs, where), stack, pos, where))
        i = m.end()
    if stack:
        raise TelegramHTMLError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e.offset, -e.length))
    return "".join(text), entities
