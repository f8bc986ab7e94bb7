"""The post, shaped by the publisher: ``telegram.template`` — pure.

A template is Jinja2, rendered in a `jinja2.sandbox.SandboxedEnvironment` with
autoescape: every value it is given is already escaped for Telegram HTML, so a
headline with ``<`` or ``&`` cannot break the post. It sees ``headline``, ``date``
(as the post shows it), ``date_iso``, ``language``, ``lead`` (the lead summary),
``sections`` (each with ``heading`` — None for the lead — and ``summary``), ``url``,
``feed_title``, ``read_label`` ("Read the article" in the chat's language) and
``show_link`` (false when the button replaces the link). `DEFAULT_TEMPLATE` renders
today's post; with no template set, the built-in renderer
(`feedbot.telegram.render.messages.render_post`) is used as before.

Whatever a template does for one article — raise any exception (a `TemplateError`, an
``OverflowError`` from a huge ``range``, a ``RecursionError`` from a recursive macro, …)
or make a message Telegram would refuse (invalid HTML, empty or only whitespace and
markup, over the limit), or a post of more than `MAX_MESSAGES` messages and twice the
built-in post's — that article gets the built-in post instead, and the reason is
logged once at ERROR with its id. At start-up `PostRenderer.check` turns the same
failures on the sample article into a `ConfigError`.

`split_html` keeps a post whatever its shape within Telegram's 4096 units and valid:
the HTML is parsed into text and entities, the text is cut at the best break that
fits (a blank line, a line end, a sentence end, a space, else anywhere), and each
piece is written back as HTML with the entities it overlaps.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from feedbot.articles.i18n import CATALOG_LANGUAGES, translator
from feedbot.articles.model import Article, Entry
from feedbot.articles.parse import parse
from feedbot.config import FeedSettings
from feedbot.errors import ConfigError
from feedbot.telegram.render.links import ArticleLinks
from feedbot.telegram.render.messages import (
    MAX_MESSAGE,
    escape,
    one_line,
    post_date,
    render_post,
    utf16_len,
    utf16_offsets,
)
from feedbot.telegram.render.parse_html import MessageEntity, TelegramHTMLError, parse_telegram_html

__all__ = ["DEFAULT_TEMPLATE", "SAMPLE", "PostRenderer", "split_html"]

log = logging.getLogger("feedbot.telegram.template")

DEFAULT_TEMPLATE: Final = """\
<b>{{ headline }}</b>
{{ date }}
{%- for s in sections %}

{% if s.heading %}<b>{{ s.heading }}</b>{% if s.summary %}
{% endif %}{% endif %}{{ s.summary }}
{%- endfor %}
{%- if show_link %}

<a href="{{ url }}">{{ read_label }}</a>
{%- endif %}"""

#: The seed-shaped article every template is tried on at start-up: a lead, headed
#: sections, characters that need escaping.
SAMPLE: Final = parse(
    "000_0000000000000000.txt",
    b'date 2022-01-14 The sample\'s <headline> & "quotes"\n\n'
    b"The lead paragraph says what happened, where and when. It has two sentences.\n\n"
    b"A heading & more\n\n"
    b"The first section explains the background in a sentence or two. Then it stops.\n\n"
    b"Another heading\n\n"
    b"The second section tells what comes next, with a <tag> and an ampersand & in it.\n",
)

#: A template's post may take this many messages, or twice as many as the built-in post of
#: the same article if that is more (a loop gone wrong must not flood every chat).
MAX_MESSAGES: Final = 10
REPORTED_KEPT: Final = 1024  # article versions whose template failure was logged, remembered

_TAGS: Final = {
    "bold": "b",
    "italic": "i",
    "underline": "u",
    "strikethrough": "s",
    "spoiler": "tg-spoiler",
    "code": "code",
    "blockquote": "blockquote",
}


@dataclass(frozen=True, slots=True)
class _Span:
    """An entity in code point offsets: [start, end)."""

    start: int
    end: int
    entity: MessageEntity


class PostRenderer:
    """(entry, language) → the post's pieces, from the template (or the built-in post)."""

    def __init__(
        self,
        feed: FeedSettings,
        template: str | None = None,
        *,
        link: bool = True,
        limit: int = MAX_MESSAGE,
        links: ArticleLinks | None = None,
    ) -> None:
        self._feed = feed
        self._url = links or ArticleLinks(feed)
        self._link = link
        self._limit = limit
        self._source = template
        self._template = None
        self._reported: OrderedDict[tuple[str, int], None] = OrderedDict()
        if template is not None or not link:
            env = SandboxedEnvironment(autoescape=True, trim_blocks=False)
            try:
                self._template = env.from_string(template or DEFAULT_TEMPLATE)
            except TemplateError as e:
                line = getattr(e, "lineno", None)
                where = f" (line {line})" if line else ""
                raise ConfigError(f"telegram.template{where}: {one_line(str(e))}") from None
            except Exception as e:  # e.g. RecursionError on deeply nested expressions
                raise ConfigError(f"telegram.template {_failure(e)}") from None

    def __call__(self, entry: Entry | Article, language: str) -> list[str]:
        article = entry.article if isinstance(entry, Entry) else entry
        url = self._url(article.id)
        if self._template is not None:
            try:
                return self._pieces(article, language)
            except Exception as e:  # whatever a template raises is a template error
                self._report(article, _failure(e))
        return render_post(article, url=url, language=language, limit=self._limit)

    def html(self, article: Article, language: str) -> str:
        """The template's output for one article, not yet split."""
        assert self._template is not None
        return self._template.render(self._context(article, language))

    def _pieces(self, article: Article, language: str) -> list[str]:
        """The template's messages for one article; `_Refused` when Telegram would not
        take one of them (any exception of the template itself passes through)."""
        html = self.html(article, language)
        try:
            text, _ = parse_telegram_html(html)
        except TelegramHTMLError as e:
            raise _Refused(f"makes invalid Telegram HTML: {e}") from None
        if utf16_len(text) > MAX_MESSAGES * self._limit:  # more than the built-in post's?
            url = self._url(article.id)
            built_in = render_post(article, url=url, language=language, limit=self._limit)
            most = max(MAX_MESSAGES, 2 * len(built_in))
            if utf16_len(text) > most * self._limit:
                raise _Refused(
                    f"makes a post longer than {most} messages (the built-in post takes "
                    f"{len(built_in)})"
                )
        pieces = split_html(html, self._limit)
        for piece in pieces:
            text, _ = parse_telegram_html(piece)
            if not text.strip():
                raise _Refused("makes an empty post: no text but whitespace and markup")
            if utf16_len(text) > self._limit:
                raise _Refused(f"makes a message over {self._limit} characters")
        return pieces

    def _report(self, article: Article, why: str) -> None:
        """Log a failure at ERROR once per article version (a broadcast renders an
        article for every language and style, and again after the cache lets it go)."""
        key = (article.id, hash(article))
        if key in self._reported:
            self._reported.move_to_end(key)
            return
        self._reported[key] = None
        if len(self._reported) > REPORTED_KEPT:
            self._reported.popitem(last=False)
        log.error(
            "telegram.template failed for article %s (it %s): the built-in post is sent instead",
            article.id,
            why,
        )

    def _context(self, article: Article, language: str) -> dict[str, Any]:
        def safe(text: str | None) -> Markup | None:
            if text is None:
                return None
            # escaped just here, for Telegram (which takes ' as is): autoescape keeps it
            return Markup(escape(one_line(text)))  # noqa: S704

        sections = [
            {
                "heading": safe(s.heading) if s.heading and one_line(s.heading) else None,
                "summary": safe(s.summary),
            }
            for s in article.sections
            if (s.heading and one_line(s.heading)) or one_line(s.summary)
        ]
        return {
            "headline": safe(article.headline),
            "date": safe(post_date(article, language)),
            "date_iso": safe(article.date.isoformat()),
            "language": safe(language),
            "lead": safe(article.lead_summary),
            "sections": sections,
            "url": safe(self._url(article.id)),
            "feed_title": safe(self._feed.title),
            "read_label": safe(translator(language)("Read the article")),
            "show_link": self._link,
        }

    def check(self) -> None:
        """Render `SAMPLE` in every language and check it as Telegram would: a
        `ConfigError` naming the problem, in one line, if the template raises anything
        or makes a message Telegram would refuse."""
        if self._template is None:
            return
        for language in CATALOG_LANGUAGES:
            try:
                self._pieces(SAMPLE, language)
            except Exception as e:
                raise ConfigError(f"telegram.template {_failure(e)}") from None


class _Refused(Exception):
    """The template rendered, but Telegram would refuse the result (the message says why)."""


def _failure(error: Exception) -> str:
    """Why a template failed, as one line that follows "telegram.template"."""
    if isinstance(error, _Refused):
        return str(error)
    detail = one_line(str(error))
    if len(detail) > 300:
        detail = detail[:299] + "…"
    name = type(error).__name__
    return f"raised {name}: {detail}" if detail else f"raised {name}"


def split_html(html: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Telegram HTML → pieces of at most ``limit`` UTF-16 units of text, each valid."""
    text, entities = parse_telegram_html(html)
    if utf16_len(text) <= limit:
        return [html]
    spans = _spans(text, entities)
    pieces: list[str] = []
    for start, end in _cuts(text, limit):
        inner = [
            _Span(max(s.start, start) - start, min(s.end, end) - start, s.entity)
            for s in spans
            if min(s.end, end) > max(s.start, start)
        ]
        pieces.append(_html(text[start:end], inner))
    return pieces


def _spans(text: str, entities: Sequence[MessageEntity]) -> list[_Span]:
    """Entities with UTF-16 offsets → code point offsets."""
    at = utf16_offsets(text)
    return [_Span(at[e.offset], at[e.offset + e.length], e) for e in entities]


def _cuts(text: str, limit: int) -> list[tuple[int, int]]:
    """Where the pieces start and end: greedy, each at the best break that fits."""
    cuts: list[tuple[int, int]] = []
    start = 0
    n = len(text)
    while start < n:
        while start < n and text[start].isspace():
            start += 1
        if start >= n:
            break
        end, units = start, 0
        while end < n:
            size = 2 if ord(text[end]) > 0xFFFF else 1
            if units + size > limit:
                break
            units += size
            end += 1
        if end < n:
            window = text[start:end]
            for mark, keep in (("\n\n", 0), ("\n", 0), (". ", 1), ("! ", 1), ("? ", 1), (" ", 0)):
                found = window.rfind(mark)
                if found > 0:
                    end = start + found + keep
                    break
        piece_end = end
        while piece_end > start and text[piece_end - 1].isspace():
            piece_end -= 1
        cuts.append((start, piece_end))
        start = end
    return cuts


def _open_tag(entity: MessageEntity) -> tuple[str, str]:
    if entity.type == "text_link":
        return f'<a href="{escape(entity.url or "")}">', "</a>"
    if entity.type == "pre":
        if entity.language:
            return f'<pre><code class="language-{escape(entity.language)}">', "</code></pre>"
        return "<pre>", "</pre>"
    if entity.type == "expandable_blockquote":
        return "<blockquote expandable>", "</blockquote>"
    tag = _TAGS.get(entity.type)
    return (f"<{tag}>", f"</{tag}>") if tag else ("", "")  # custom emoji: the plain text


def _html(text: str, spans: Sequence[_Span]) -> str:
    """Text and (nested or disjoint) spans → Telegram HTML."""
    out: list[str] = []
    pos = 0
    stack: list[tuple[_Span, str]] = []

    def upto(at: int) -> None:
        nonlocal pos
        if at > pos:
            out.append(escape(text[pos:at]))
            pos = at

    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        while stack and stack[-1][0].end <= span.start:
            done, close = stack.pop()
            upto(done.end)
            out.append(close)
        upto(span.start)
        opening, closing = _open_tag(span.entity)
        out.append(opening)
        stack.append((span, closing))
    while stack:
        done, close = stack.pop()
        upto(done.end)
        out.append(close)
    upto(len(text))
    return "".join(out)
