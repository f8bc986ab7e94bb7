"""Article bodies as HTML, and the text cleaning every XML output needs — pure.

Article text is text: every string is escaped, so a headline like
``<script>alert(1)</script>`` shows as those characters, never as markup.
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import replace

from feedbot.articles.model import Article, Block, BlockKind, Entry, Section

__all__ = ["article_html", "clean_article", "clean_entries", "clean_text"]

log = logging.getLogger("feedbot.body")

# What XML 1.0 cannot carry: C0 controls but tab/LF/CR, lone surrogates, U+FFFE/U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text)


@functools.lru_cache(maxsize=4096)
def _warn_stripped(article_id: str) -> None:
    """Log once per article id (per process) that characters were removed."""
    log.warning("article %s: removed characters XML cannot carry (control characters)", article_id)


def _clean_block(block: Block) -> Block:
    text = clean_text(block.text)
    return block if text == block.text else replace(block, text=text)


def _clean_section(section: Section) -> Section:
    heading = clean_text(section.heading) if section.heading is not None else None
    return Section(
        heading=heading,
        blocks=tuple(_clean_block(b) for b in section.blocks),
        summary=clean_text(section.summary),
    )


def _needs_cleaning(article: Article) -> bool:
    texts = [article.headline]
    for section in article.sections:
        texts.append(section.heading or "")
        texts.append(section.summary)
        texts.extend(b.text for b in section.blocks)
    return any(_NOT_XML.search(t) for t in texts)


def clean_article(article: Article) -> Article:
    """The article with every text field cleaned (the same object when nothing had to go)."""
    if not _needs_cleaning(article):
        return article
    _warn_stripped(article.id)
    return replace(
        article,
        headline=clean_text(article.headline),
        sections=tuple(_clean_section(s) for s in article.sections),
    )


def clean_entries(entries: Sequence[Entry]) -> list[Entry]:
    """The entries with their articles cleaned."""
    out = []
    for entry in entries:
        article = clean_article(entry.article)
        out.append(entry if article is entry.article else replace(entry, article=article))
    return out


def _esc(text: str) -> str:
    return html.escape(text, quote=False)  # text nodes only: quotes need no escaping


def article_html(article: Article) -> str:
    """Body HTML: sections as ``<section><h2>``, quotes as blockquotes, captions as figures.

    The lead summary is not included: pages and feeds put it where they want it.
    """
    article = clean_article(article)
    parts: list[str] = []
    for section in article.sections:
        parts.append("<section>")
        if section.heading:
            parts.append(f"<h2>{_esc(section.heading)}</h2>")
        for block in section.blocks:
            text = _esc(block.text)
            if block.kind is BlockKind.QUOTE:
                parts.append(f"<blockquote><p>{text}</p></blockquote>")
            elif block.kind is BlockKind.CAPTION:
                parts.append(f"<figure><figcaption>{text}</figcaption></figure>")
            else:  # PARAGRAPH, QUOTE_INTRO: a quote's intro is a paragraph before its blockquote
                parts.append(f"<p>{text}</p>")
        parts.append("</section>")
    return "\n".join(parts)
