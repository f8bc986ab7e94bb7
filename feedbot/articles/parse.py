"""The article parser: a file's name and bytes in, a summarised `Article` out — pure.

It never opens a file (`feedbot.ingest.files` does). Section headings, quotes and
captions are told apart by their shape; see the README's "The article format".
"""

from __future__ import annotations

import re

from feedbot.articles.model import Article, Block, BlockKind, Section, parse_date
from feedbot.articles.names import MAX_SEQ_DIGITS, sequence_number
from feedbot.articles.summarize import DETECT_CHARS, detect_language, summarize
from feedbot.errors import ArticleError

__all__ = ["CAPTION_CREDITS", "DEFAULT_MAX_BYTES", "file_stem", "parse"]

DEFAULT_MAX_BYTES = 1024 * 1024

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
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_BOM = b"\xef\xbb\xbf"


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


def file_stem(name: str) -> str:
    """``PurePosixPath(name).stem`` with ``\\`` a separator too, without making a path: a
    path interns its parts, and the interpreter's table of interned strings, grown by a
    first scan of thousands of file names, keeps its size for good (about 1 MB per 10,000)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p and p != "."]
    last = parts[-1] if parts else ""
    dot = last.rfind(".")
    return last[:dot] if 0 < dot < len(last) - 1 else last


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
    stem = file_stem(name)
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
