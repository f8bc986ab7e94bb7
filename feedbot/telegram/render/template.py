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

`split_html` keeps a post whatever its shape within Telegram's 4096 units and valid:
the HTML is parsed into text and entities, the text is cut at the best break that
fits (a blank line, a line end, a sentence end, a space, else anywhere), and each
piece is written back as HTML with the entities it overlaps.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from feedbot.articles.i18n import CATALOG_LANGUAGES, translator
from feedbot.articles.model import Article, Entry, parse
from feedbot.config import FeedSettings
from feedbot.errors import ConfigError
from feedbot.publish.feeds import article_url
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
    ) -> None:
        self._feed = feed
        self._link = link
        self._limit = limit
        self._source = template
        self._template = None
        if template is not None or not link:
            env = SandboxedEnvironment(autoescape=True, trim_blocks=False)
            try:
                self._template = env.from_string(template or DEFAULT_TEMPLATE)
            except TemplateError as e:
                line = getattr(e, "lineno", None)
                where = f" (line {line})" if line else ""
                raise ConfigError(f"telegram.template{where}: {e}") from None

    def __call__(self, entry: Entry | Article, language: str) -> list[str]:
        article = entry.article if isinstance(entry, Entry) else entry
        url = article_url(self._feed, article.id)
        if self._template is None:
            return render_post(article, url=url, language=language, limit=self._limit)
        try:
            return split_html(self.html(article, language), self._limit)
        except (TemplateError, TelegramHTMLError, ValueError, TypeError) as e:
            log.error(
                "telegram.template failed for %s (%s): the built-in post is sent", article.id, e
            )
            return render_post(article, url=url, language=language, limit=self._limit)

    def html(self, article: Article, language: str) -> str:
        """The template's output for one article, not yet split."""
        assert self._template is not None
        return self._template.render(self._context(article, language))

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
            "url": safe(article_url(self._feed, article.id)),
            "feed_title": safe(self._feed.title),
            "read_label": safe(translator(language)("Read the article")),
            "show_link": self._link,
        }

    def check(self) -> None:
        """Render `SAMPLE` in every language and check it as Telegram would: a
        `ConfigError` naming the problem if the template errs or makes bad HTML."""
        if self._template is None:
            return
        for language in CATALOG_LANGUAGES:
            try:
                html = self.html(SAMPLE, language)
            except TemplateError as e:
                raise ConfigError(f"telegram.template: {type(e).__name__}: {e}") from None
            try:
                text, _ = parse_telegram_html(html)
            except TelegramHTMLError as e:
                raise ConfigError(f"telegram.template makes invalid Telegram HTML: {e}") from None
            if not text.strip():
                raise ConfigError("telegram.template makes an empty post")


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
