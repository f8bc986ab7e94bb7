"""Articles: the data every other part of feedbot consumes, and the parser.

Stages, by name:

- `Article`: what one article file says, parsed and summarised. Pure data; made
  by `parse(name, data)` from the file's name and bytes (this module never opens
  a file).
- `Entry`: an `Article` as published, with the times the store keeps for it.

All classes are frozen; sequences are tuples.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import quote

from feedbot.articles.summarize import DETECT_CHARS, detect_language, summarize
from feedbot.errors import ArticleError

__all__ = [
    "CAPTION_CREDITS",
    "DEFAULT_MAX_BYTES",
    "MAX_ID_URL_CHARS",
    "MAX_SEQ_DIGITS",
    "Article",
    "ArticleDate",
    "Block",
    "BlockKind",
    "DatePrecision",
    "Entry",
    "Section",
    "article_from_dict",
    "article_to_dict",
    "id_in_url",
    "is_article_name",
    "name_problem",
    "parse",
    "parse_date",
    "scheduled",
    "sequence_number",
]

DEFAULT_MAX_BYTES = 1024 * 1024
# The longest id, percent-encoded as in its page's URL, that can be published: the page
# route (`feedbot.publish.site`) accepts exactly this, and the indexer refuses longer ones.
MAX_ID_URL_CHARS = 200
# The leading number of a file name orders articles within a date and is stored as a
# 64-bit integer: 18 digits always fit (a timestamp such as 20260301120000 has 14).
MAX_SEQ_DIGITS = 18


class DatePrecision(enum.StrEnum):
    """How much of the date the article's date line gives."""

    MONTH = "month"  # 2022-01
    DAY = "day"  # 2022-01-14
    INSTANT = "instant"  # 2022-01-14T09:30:00+01:00


@dataclass(frozen=True, slots=True)
class ArticleDate:
    """The date line's date. ``value`` is timezone-aware UTC; a month is its first
    day at 00:00 UTC, a day is 00:00 UTC."""

    value: datetime
    precision: DatePrecision

    def isoformat(self) -> str:
        """``2022-01``, ``2022-01-14`` or a full RFC 3339 timestamp in UTC."""
        v = self.value  # not strftime: glibc drops the zero padding of years before 1000
        if self.precision is DatePrecision.MONTH:
            return f"{v.year:04d}-{v.month:02d}"
        if self.precision is DatePrecision.DAY:
            return f"{v.year:04d}-{v.month:02d}-{v.day:02d}"
        return self.value.isoformat().replace("+00:00", "Z")


class BlockKind(enum.StrEnum):
    """What a block of an article is."""

    PARAGRAPH = "paragraph"
    QUOTE_INTRO = "quote_intro"  # a paragraph ending in ':' that introduces the next block
    QUOTE = "quote"  # the block a QUOTE_INTRO introduces
    CAPTION = "caption"  # a photo/video caption ending in a credit


@dataclass(frozen=True, slots=True)
class Block:
    """One block of text (a paragraph of the file). ``line`` is 1-based."""

    kind: BlockKind
    text: str
    line: int


@dataclass(frozen=True, slots=True)
class Section:
    """A run of blocks under an optional heading (the lead section has none)."""

    heading: str | None
    blocks: tuple[Block, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class Article:
    """One parsed, summarised article file."""

    id: str  # the file stem, e.g. "000_52a7b11c330feae9"; stable forever
    seq: int  # the leading number of the file name, orders articles within a date
    date: ArticleDate
    headline: str
    language: str  # ISO 639-1, detected from the text
    sections: tuple[Section, ...]

    @property
    def lead_summary(self) -> str:
        """Summary of the lead (first, heading-less) section, or of the first section."""
        return self.sections[0].summary if self.sections else ""


@dataclass(frozen=True, slots=True)
class Entry:
    """An article as published: the article plus the times the store keeps.

    ``published`` is the article's date; ``updated`` equals it until the content
    changes, then it is the time the change was detected.
    """

    article: Article
    updated: datetime

    @property
    def published(self) -> datetime:
        return self.article.date.value

    @classmethod
    def of(cls, article: Article) -> Entry:
        """An entry for an article never changed since it was first seen."""
        return cls(article=article, updated=article.date.value)


# --- parsing: bytes in, Article out -------------------------------------------------------

# Credits that end a photo/video caption, as (name, pattern). Each is matched at the end of
# the block (case-insensitive) and has a test in tests/articles/test_article.py.
CAPTION_CREDITS: tuple[tuple[str, str], ...] = (
    ("screengrab", r"\bscreen ?grabs? (?:by|from|via|da|di) [^.!?]{1,60}"),
    (
        "labelled credit",
        r"\b(?:foto|photo|photos|video|credit|credits|immagine|image)\s*:\s*.{1,80}",
    ),
    ("agency photo", r"\((?:ap|afp|ansa|epa|reuters|lapresse)?\s*photo\b[^)]{0,80}\)?"),
    ("copyright", r"©.{0,80}"),
    ("photo by", r"\b(?:photo|foto|picture|video) (?:by|di|da|courtesy of) [^.!?]{1,60}"),
    ("getty images", r"\bgetty images\b[^.!?]{0,40}"),
    (
        "agency after a stop",
        r"(?:^|[.(/|–—-]\s*)(?:afp|ap|ansa|epa|reuters|lapresse|xinhua|shutterstock)"
        r"(?:\s+(?:photo|foto|video|images?))?\s*\)?",
    ),
)
_CAPTION = re.compile(  # all credits in one: the reference `_CREDIT_CHECKS` is tested against
    "(?:" + "|".join(f"(?:{p})" for _, p in CAPTION_CREDITS) + r")\s*$", re.IGNORECASE
)
_CAPTION_TAIL = 120  # credits sit at the end: match on the tail only
# Each credit's match contains one of its hints (lowercased): a tail without them cannot
# match it, so most blocks skip the regexes (~10 µs a search). One per CAPTION_CREDITS entry.
_AGENCY_HINTS = ("afp", "ap", "ansa", "epa", "reuters", "xinhua", "shutterstock")
_CREDIT_HINTS: dict[str, tuple[str, ...]] = {
    "screengrab": ("screen",),
    "labelled credit": (":",),
    "agency photo": ("photo",),
    "copyright": ("©",),
    "photo by": ("photo", "foto", "picture", "video"),
    "getty images": ("getty",),
    "agency after a stop": _AGENCY_HINTS,
}
_CREDIT_CHECKS = tuple(
    (_CREDIT_HINTS[name], re.compile(f"(?:{pattern})\\s*$", re.IGNORECASE))
    for name, pattern in CAPTION_CREDITS
)
_CAPTION_MAX_WORDS = 60
_HEADING_MAX_WORDS = 12
_HEADING_MAX_CHARS = 160  # a quick "no" for long paragraphs before counting words
_SENTENCE_END = '.!?:;…"”»'
_CLOSERS = "\"”»’'"
_NOT_HEADING_END = ".:;,…"
_DATE_LINE = re.compile(r"date[ \t]+(\S+)[ \t]*(.*)", re.IGNORECASE | re.DOTALL)
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d")
_SEQ = re.compile(r"\d+")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_TEMP_SUFFIXES = (".tmp", ".part", "~", ".swp")
_BOM = b"\xef\xbb\xbf"


def is_article_name(name: str) -> bool:
    """Whether a file name (not a path) is an article: ``*.txt``, no dotfile, no temp file."""
    return name.endswith(".txt") and not name.startswith(".") and not name.endswith(_TEMP_SUFFIXES)


def id_in_url(article_id: str) -> str:
    """An id as it appears in a URL: percent-encoded except for ``A-Za-z0-9-_.~``."""
    return quote(article_id, safe="-_.~")


def name_problem(name: str) -> str | None:
    """Why an article file name (see `is_article_name`) cannot be published, or None.

    The name must be UTF-8 (``os.fsdecode`` keeps other bytes as surrogates) and
    without a backslash, its id (the name less ``.txt``) must fit in a page URL, and
    its leading number (the sequence number) must have at most `MAX_SEQ_DIGITS` digits.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8"
    if "\\" in name:
        return "file name contains a backslash"
    length = len(id_in_url(name.removesuffix(".txt")))
    if length > MAX_ID_URL_CHARS:
        return (
            f"the id takes {length} characters in a URL, over the limit of {MAX_ID_URL_CHARS}; "
            "use a shorter file name"
        )
    if sequence_number(name.removesuffix(".txt")) is None:
        return f"sequence number too large (at most {MAX_SEQ_DIGITS} digits)"
    return None


def sequence_number(stem: str) -> int | None:
    """The leading number of a file stem (0 when it has none), or None when it has more
    than `MAX_SEQ_DIGITS` significant digits and so cannot be stored."""
    m = _SEQ.match(stem)
    if m is None:
        return 0
    if len(m[0].lstrip("0")) > MAX_SEQ_DIGITS:
        return None  # leading zeros do not count
    return int(m[0])


def scheduled(article: Article, now: datetime) -> bool:
    """Whether an article waits for its date: a full timestamp still in the future (it is
    published at that moment, not before)."""
    return article.date.precision is DatePrecision.INSTANT and article.date.value > now


def parse_date(token: str) -> ArticleDate:
    """``2022-01`` (month), ``2022-01-14`` (day) or an ISO 8601 timestamp with a zone."""
    try:
        if m := _MONTH.fullmatch(token):
            value = datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC)
            return ArticleDate(value, DatePrecision.MONTH)
        if m := _DAY.fullmatch(token):
            value = datetime(int(m[1]), int(m[2]), int(m[3]), tzinfo=UTC)
            return ArticleDate(value, DatePrecision.DAY)
        if _STAMP.match(token):
            stamp = datetime.fromisoformat(token)
            if stamp.tzinfo is None:
                raise ValueError("the timestamp needs a time zone (Z or ±HH:MM)")
            return ArticleDate(stamp.astimezone(UTC), DatePrecision.INSTANT)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"impossible date {token!r}: {e}") from None
    raise ValueError(f"bad date {token!r}: expected YYYY-MM, YYYY-MM-DD or an ISO 8601 timestamp")


def _decode(name: str, data: bytes, max_bytes: int) -> str:
    """The file's text: size, binary and encoding checked, BOM and CRs gone."""
    if len(data) > max_bytes:
        raise ArticleError(name, 0, f"file is {len(data):,} bytes, over the limit of {max_bytes:,}")
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ArticleError(name, line, f"NUL byte at byte offset {nul}: binary content, not text")
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = e.start + skip
        line = data.count(b"\n", 0, offset) + 1
        raise ArticleError(
            name, line, f"invalid UTF-8 at byte offset {offset} (line {line}); save it as UTF-8"
        ) from None
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if m := _CONTROL.search(text):
        line = text.count("\n", 0, m.start()) + 1
        raise ArticleError(name, line, f"control character U+{ord(m[0]):04X}: binary content")
    return text


def _blocks(lines: list[str], first: int) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines from ``lines[first:]`` as (1-based line, stripped lines)."""
    blocks: list[tuple[int, list[str]]] = []
    current: list[str] = []
    for number in range(first, len(lines)):
        stripped = lines[number].strip()
        if stripped:
            if not current:
                blocks.append((number + 1, current))
            current.append(stripped)
        elif current:
            current = []
    return blocks


def _is_caption(text: str) -> bool:
    if text[-1] in _SENTENCE_END or text.count(" ") >= _CAPTION_MAX_WORDS:
        return False  # credits never end in a full stop: most paragraphs stop here
    start = max(0, len(text) - _CAPTION_TAIL)
    probe = text[start:].lower()
    if not probe.isascii():  # what re.IGNORECASE also equates with ASCII letters
        probe = probe.replace("ı", "i").replace("ſ", "s").replace("\u0307", "")  # İ → i̇
    return any(
        credit.search(text, start) is not None
        for hints, credit in _CREDIT_CHECKS
        if any(hint in probe for hint in hints)
    )


def _could_be_heading(lines: list[str], text: str) -> bool:
    if len(lines) != 1 or len(text) > _HEADING_MAX_CHARS or text.count(" ") >= _HEADING_MAX_WORDS:
        return False
    end = text.rstrip(_CLOSERS)
    return bool(end) and end[-1] not in _NOT_HEADING_END and not end.endswith("...")


def _classify(raw: list[tuple[int, list[str]]]) -> list[tuple[int, str, BlockKind | None]]:
    """Each block as (line, text, kind) where kind None marks a heading."""
    texts = [" ".join(lines) for _, lines in raw]
    captions = [_is_caption(t) for t in texts]
    heading_like = [
        not c and _could_be_heading(lines, t)
        for (_, lines), t, c in zip(raw, texts, captions, strict=True)
    ]
    out: list[tuple[int, str, BlockKind | None]] = []
    quote_next = False
    for i, ((line, _), text) in enumerate(zip(raw, texts, strict=True)):
        kind: BlockKind | None
        if quote_next:
            kind, quote_next = BlockKind.QUOTE, False
        elif captions[i]:
            kind = BlockKind.CAPTION
        elif (
            heading_like[i] and i + 1 < len(raw) and not heading_like[i + 1] and not captions[i + 1]
        ):
            kind = None
        elif text.endswith(":") and i + 1 < len(raw) and not captions[i + 1]:
            kind, quote_next = BlockKind.QUOTE_INTRO, True
        else:
            kind = BlockKind.PARAGRAPH
        out.append((line, text, kind))
    return out


def _summary_units(blocks: list[Block]) -> list[str]:
    """The texts a summary draws from: no captions; a quote lead-in joined to its quote."""
    units: list[str] = []
    after_intro = False
    for block in blocks:
        if block.kind is BlockKind.CAPTION:
            continue
        if after_intro and block.kind is BlockKind.QUOTE:
            units[-1] = f"{units[-1]} {block.text}"
        else:
            units.append(block.text)
        after_intro = block.kind is BlockKind.QUOTE_INTRO
    return units


def parse(name: str, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Article:
    """Parse an article file's bytes; ``name`` is its path as given (for errors and the id)."""
    text = _decode(name, data, max_bytes)
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise ArticleError(name, 0, "file is empty")
    date_line = _DATE_LINE.fullmatch(lines[first].strip())
    if date_line is None:
        raise ArticleError(
            name, first + 1, "expected the date line first: 'date YYYY-MM[-DD] <headline>'"
        )
    try:
        date = parse_date(date_line[1])
    except ValueError as e:
        raise ArticleError(name, first + 1, str(e)) from None
    headline = date_line[2].strip()
    if not headline:
        raise ArticleError(name, first + 1, "missing headline after the date")

    grouped: list[tuple[str | None, list[Block]]] = []
    for line, block_text, kind in _classify(_blocks(lines, first + 1)):
        if kind is None:
            grouped.append((block_text, []))
            continue
        if not grouped:
            grouped.append((None, []))
        grouped[-1][1].append(Block(kind, block_text, line))

    sample = [headline]
    size = len(headline)
    for block in (b for _, blocks in grouped for b in blocks if b.kind is not BlockKind.CAPTION):
        if size >= DETECT_CHARS:
            break
        sample.append(block.text)
        size += len(block.text) + 1
    language = detect_language(" ".join(sample))
    sections = tuple(
        Section(heading, tuple(blocks), summarize(_summary_units(blocks), language))
        for heading, blocks in grouped
    )
    stem = PurePath(name.replace("\\", "/")).stem
    seq = sequence_number(stem)
    if seq is None:
        raise ArticleError(name, 0, f"sequence number too large (at most {MAX_SEQ_DIGITS} digits)")
    return Article(
        id=stem,
        seq=seq,
        date=date,
        headline=headline,
        language=language,
        sections=sections,
    )


# --- the JSON shape (`feedbot show --json`, caches) ----------------------------------------


def article_to_dict(article: Article) -> dict[str, Any]:
    """A JSON-able dict; `article_from_dict` turns it back into an equal `Article`."""
    return {
        "id": article.id,
        "seq": article.seq,
        "date": article.date.isoformat(),
        "date_precision": article.date.precision.value,
        "headline": article.headline,
        "language": article.language,
        "sections": [
            {
                "heading": s.heading,
                "summary": s.summary,
                "blocks": [
                    {"kind": b.kind.value, "text": b.text, "line": b.line} for b in s.blocks
                ],
            }
            for s in article.sections
        ],
    }


def article_from_dict(data: dict[str, Any]) -> Article:
    """The `Article` an `article_to_dict` result describes (raises ValueError/KeyError if bad)."""
    date = parse_date(data["date"])
    if date.precision.value != data.get("date_precision", date.precision.value):
        raise ValueError(f"date {data['date']!r} is not of precision {data['date_precision']!r}")
    return Article(
        id=str(data["id"]),
        seq=int(data["seq"]),
        date=date,
        headline=str(data["headline"]),
        language=str(data["language"]),
        sections=tuple(
            Section(
                heading=s["heading"],
                blocks=tuple(
                    Block(BlockKind(b["kind"]), str(b["text"]), int(b["line"])) for b in s["blocks"]
                ),
                summary=str(s["summary"]),
            )
            for s in data["sections"]
        ),
    )
