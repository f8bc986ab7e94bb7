"""Telegram messages, as Telegram HTML: the article post and the bot's replies — pure.

A post is: the headline in bold, the date, the lead summary, then each section's
heading in bold with its summary, then a link to the article page. It is one
message when it fits Telegram's 4096 UTF-16 units (counted on the visible text);
otherwise it is split at section boundaries, then at sentence boundaries, then
between words, and only a single word longer than a whole message is cut.
Every piece is rendered separately, so no piece can end inside a tag or an entity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from feedbot.articles.dates import format_date
from feedbot.articles.i18n import N_, translator
from feedbot.articles.model import Article, DatePrecision, Entry
from feedbot.search.query import Query
from feedbot.search.reach import SEARCHED_SINCE
from feedbot.search.snippet import snippet

__all__ = [
    "COMMANDS",
    "LANGUAGE_LABELS",
    "MAX_LATEST",
    "MAX_MESSAGE",
    "command_descriptions",
    "escape",
    "one_line",
    "post_date",
    "render_blocks",
    "render_feed_links",
    "render_help",
    "render_latest",
    "render_post",
    "render_search_results",
    "render_stats",
    "render_text",
    "utf16_len",
    "utf16_offsets",
]

MAX_MESSAGE: Final = 4096  # UTF-16 code units of visible text, Telegram's limit
MAX_LATEST: Final = 10  # entries /latest shows at most
_MAX_LATEST_HEADLINE: Final = 200  # characters of a headline in /latest

#: Bot commands in menu order: (command, description msgid, admins only).
COMMANDS: Final = (
    ("start", N_("Subscribe this chat to new articles"), False),
    ("subscribe", N_("Post every new article in this chat"), False),
    ("unsubscribe", N_("Stop posting new articles in this chat"), False),
    ("stop", N_("Same as /unsubscribe"), False),
    ("latest", N_("Show the latest headlines: /latest [n]"), False),
    ("search", N_("Search the articles: /search words"), False),
    ("feed", N_("Show the feed addresses"), False),
    ("settings", N_("Change the settings of this chat"), False),
    ("digest", N_("A digest instead of every post: /digest daily 08:00"), False),
    ("timezone", N_("Set the timezone: /timezone Europe/Rome"), False),
    ("quiet", N_("Set quiet hours: /quiet 23:00-07:00 hold"), False),
    ("filter", N_("Filter articles by keyword or language"), False),
    ("style", N_("Choose how posts look: full, compact, headlines"), False),
    ("help", N_("List the commands"), False),
    ("stats", N_("Subscribers, articles and deliveries (bot admins only)"), True),
)

SNIPPET_LINE = 120  # characters of a /search result's snippet

#: Labels of the /settings language buttons, each in its own language.
LANGUAGE_LABELS: Final = {"en": "English", "it": "Italiano"}

# Break priorities between two tokens: lower is a better place to split. A line break
# (headline/date, heading/summary) is as good as a sentence end, no better.
_BLOCK, _LINE, _SENTENCE, _WORD, _CHAR = 0, 2, 2, 3, 4
_SENTENCE_END = re.compile(r"[.!?…:;][\"'»”’)\]]*$")
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_ESCAPE_RE = re.compile(r'[&<>"]')
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

Style = str | None  # None = plain, "b" = bold, any other value = a link to that URL


def utf16_offsets(text: str) -> dict[int, int]:
    """Telegram's UTF-16 offsets into ``text`` → string indices (every boundary, end too)."""
    at: dict[int, int] = {}
    units = 0
    for index, ch in enumerate(text):
        at[units] = index
        units += 2 if ord(ch) > 0xFFFF else 1
    at[units] = len(text)
    return at


def utf16_len(s: str) -> int:
    """Length in UTF-16 code units, as Telegram counts message length and offsets."""
    return len(s.encode("utf-16-le")) // 2


def escape(s: str) -> str:
    """Escape text (or an attribute value) for Telegram HTML."""
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group()], s)


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    style: Style
    sep: str  # what follows the token when no split happens there
    prio: int  # how good a split point the gap after the token is


def _clean(text: str) -> str:
    """One line of text: control characters and runs of whitespace become one space."""
    return " ".join(_SURROGATE.sub("\ufffd", _CONTROL.sub(" ", text)).split())


def _chop(word: str, limit: int) -> list[str]:
    """Cut a word longer than ``limit`` UTF-16 units into pieces that fit."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for ch in word:
        n = 2 if ord(ch) > 0xFFFF else 1
        if size + n > limit:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    pieces.append("".join(current))
    return pieces


def _tokens(blocks: Sequence[Sequence[tuple[str, Style]]], limit: int) -> list[_Token]:
    """Blocks of lines of (text, style) → words, each with the break that follows it."""
    tokens: list[_Token] = []
    for block in blocks:
        for text, style in block:
            for word in text.split(" "):
                prio = _SENTENCE if _SENTENCE_END.search(word) else _WORD
                pieces = _chop(word, limit) if utf16_len(word) > limit else [word]
                tokens.extend(_Token(p, style, "", _CHAR) for p in pieces[:-1])
                tokens.append(_Token(pieces[-1], style, " ", prio))
            tokens[-1] = _Token(tokens[-1].text, style, "\n", _LINE)
        last = tokens[-1]
        tokens[-1] = _Token(last.text, last.style, "\n\n", _BLOCK)
    return tokens


def _wrap(text: str, style: Style) -> str:
    if style is None:
        return escape(text)
    if style == "b":
        return f"<b>{escape(text)}</b>"
    return f'<a href="{escape(style)}">{escape(text)}</a>'


def _render(tokens: Sequence[_Token]) -> str:
    """One message: runs of equal style share a tag; separators between styles are plain."""
    runs: list[tuple[str, Style]] = []
    for i, tok in enumerate(tokens):
        parts = [(tok.text, tok.style)]
        if i + 1 < len(tokens):
            same = tokens[i + 1].style == tok.style
            parts.append((tok.sep, tok.style if same else None))
        for text, style in parts:
            if runs and runs[-1][1] == style:
                runs[-1] = (runs[-1][0] + text, style)
            elif text:
                runs.append((text, style))
    return "".join(_wrap(text, style) for text, style in runs)


def _effective_priorities(tokens: Sequence[_Token], limit: int) -> list[int]:
    """A block boundary is only worth a new message if the block after it fits in one."""
    prio = [t.prio for t in tokens]
    size = 0  # visible size of the block that starts after token i
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i].prio == _BLOCK and size > limit:
            prio[i] = _SENTENCE
        if tokens[i].prio == _BLOCK:
            size = 0
        size += utf16_len(tokens[i].text) + (utf16_len(tokens[i].sep) if size else 0)
    return prio


def _split(tokens: Sequence[_Token], limit: int) -> list[list[_Token]]:
    """Greedy: fill each message, ending it at the best break point that fits."""
    prio = _effective_priorities(tokens, limit)
    pieces: list[list[_Token]] = []
    start = 0
    while start < len(tokens):
        size = 0
        end = start  # exclusive end of the longest run that fits
        while end < len(tokens):
            sep = utf16_len(tokens[end - 1].sep) if end > start else 0
            grown = size + sep + utf16_len(tokens[end].text)
            if grown > limit:
                break
            size, end = grown, end + 1
        if end == len(tokens):
            pieces.append(list(tokens[start:]))
            break
        best = min(range(start, end), key=lambda i: (prio[i], -i))
        pieces.append(list(tokens[start : best + 1]))
        start = best + 1
    return pieces


def _date(article: Article, language: str) -> str:
    """The article's date to the day at most: ``January 2022``, ``14 gennaio 2022``."""
    precision = article.date.precision
    if precision is DatePrecision.INSTANT:
        precision = DatePrecision.DAY
    return format_date(article.date.value, precision, language)


def one_line(text: str) -> str:
    """Text as a post shows it: one line, control characters and runs of spaces as one space."""
    return _clean(text)


def post_date(article: Article, language: str) -> str:
    """The date as a post shows it (for the other post styles and the templates)."""
    return _date(article, language)


def render_post(
    entry_or_article: Entry | Article, *, url: str, language: str, limit: int = MAX_MESSAGE
) -> list[str]:
    """The post for an article: one Telegram-HTML message, or more if it cannot fit."""
    article = entry_or_article.article if isinstance(entry_or_article, Entry) else entry_or_article
    _ = translator(language)
    blocks: list[list[tuple[str, Style]]] = []
    header: list[tuple[str, Style]] = [(_clean(article.headline), "b")]
    header.append((_date(article, language), None))
    blocks.append(header)
    for section in article.sections:
        block: list[tuple[str, Style]] = []
        if section.heading is not None and _clean(section.heading):
            block.append((_clean(section.heading), "b"))
        if _clean(section.summary):
            block.append((_clean(section.summary), None))
        if block:
            blocks.append(block)
    blocks.append([(_("Read the article"), url)])
    return render_blocks(blocks, limit)


def render_blocks(
    blocks: Sequence[Sequence[tuple[str, Style]]], limit: int = MAX_MESSAGE
) -> list[str]:
    """Blocks of lines of (text, style: None plain, "b" bold, else a link URL) as
    messages, split as a post is: between blocks, then sentences, then words."""
    kept = [[(_clean(text), style) for text, style in b if _clean(text)] for b in blocks]
    tokens = _tokens([b for b in kept if b], limit)
    return [_render(piece) for piece in _split(tokens, limit)]


def render_text(language: str, message: str, /, **params: object) -> str:
    """A translated reply as Telegram HTML, with the message and its parameters escaped."""
    template = escape(translator(language)(message))
    return template.format(**{k: escape(str(v)) for k, v in params.items()})


def _headline(text: str) -> str:
    text = _clean(text)
    if len(text) <= _MAX_LATEST_HEADLINE:
        return text
    return text[: _MAX_LATEST_HEADLINE - 1].rstrip() + "…"


def render_latest(entries: Iterable[Entry], *, url_for: Callable[[str], str], language: str) -> str:
    """The /latest reply: numbered headlines (at most ten) with links (``url_for(id)``,
    `feedbot.telegram.render.links.ArticleLinks`) and dates."""
    _ = translator(language)
    chosen = list(entries)[:MAX_LATEST]
    if not chosen:
        return escape(_("No articles yet."))
    header = _.ngettext("The latest article:", "The {n} latest articles:", len(chosen))
    lines = [f"<b>{escape(header)}</b>"]
    for number, entry in enumerate(chosen, 1):
        article = entry.article
        link = _wrap(_headline(article.headline), url_for(article.id))
        lines.append(f"{number}. {link} — {escape(_date(article, language))}")
    return "\n".join(lines)


def render_search_results(
    entries: Sequence[Entry],
    *,
    query: Query,
    typed: str,
    url_for: Callable[[str], str],
    language: str,
    start: int = 0,
    since: datetime | None = None,
) -> str:
    """The /search reply: numbered headlines with links and dates, each with a one-line
    snippet whose matched words are bold; ``start`` results came before these; ``since``:
    the date the search read back to, when it did not read the whole archive."""
    searched = []
    if since is not None:
        day = format_date(since, DatePrecision.DAY, language)
        searched.append(f"<i>{render_text(language, SEARCHED_SINCE, date=day)}</i>")
    if not entries:
        found = render_text(language, N_("No articles found for “{query}”."), query=typed)
        return "\n".join([found, *searched])
    lines = [f"<b>{render_text(language, N_('Results for “{query}”:'), query=typed)}</b>"]
    for number, entry in enumerate(entries, start + 1):
        article = entry.article
        link = _wrap(_headline(article.headline), url_for(article.id))
        lines.append(f"{number}. {link} — {escape(_date(article, language))}")
        passage = snippet(article, query, chars=SNIPPET_LINE)
        if passage.segments:
            lines.append(passage.html(tag="b"))
    return "\n".join([*lines, *searched])


def command_descriptions(language: str, *, admin: bool = False) -> list[tuple[str, str]]:
    """(command, description) pairs for setMyCommands; admin commands only if ``admin``."""
    _ = translator(language)
    return [(cmd, _(desc)) for cmd, desc, admin_only in COMMANDS if admin or not admin_only]


def render_help(language: str, *, title: str, admin: bool = False) -> str:
    """The /help reply: what the bot does and every command, admin ones if ``admin``."""
    _ = translator(language)
    intro = N_("{title} posts every new article to the chats subscribed to it.\n\nCommands:")
    lines = [render_text(language, intro, title=title)]
    lines += [f"/{cmd} — {escape(_(desc))}" for cmd, desc, only in COMMANDS if not only]
    if admin:
        lines.append("\n" + escape(_("Commands for the bot's administrators:")))
        lines += [f"/{cmd} — {escape(_(desc))}" for cmd, desc, only in COMMANDS if only]
    return "\n".join(lines)


def render_feed_links(language: str, *, title: str, atom: str, rss: str, json: str) -> str:
    """The /feed reply: the three feed URLs."""
    message = N_("The feeds of {title}:\nAtom: {atom}\nRSS: {rss}\nJSON Feed: {json}")
    return render_text(language, message, title=title, atom=atom, rss=rss, json=json)


def render_stats(
    language: str, *, subscribers: int, articles: int, pending: int, sent: int, failed: int
) -> str:
    """The /stats reply for bot admins."""
    _ = translator(language)
    deliveries = N_("Deliveries: {pending} pending, {sent} sent, {failed} failed")
    return "\n".join(
        [
            f"<b>{escape(_('Statistics'))}</b>",
            escape(_.ngettext("{n} subscribed chat", "{n} subscribed chats", subscribers)),
            escape(_.ngettext("{n} article", "{n} articles", articles)),
            render_text(language, deliveries, pending=pending, sent=sent, failed=failed),
        ]
    )
