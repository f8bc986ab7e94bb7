"""HTML pages: the paged index, one page per article, the 404 page — pure: entries in, bytes out.

Templates live in ``feedbot/templates`` (Jinja2, autoescape on): article text is
text. The only markup taken as is comes from `feeds.article_html`, which escapes
every string itself. Links between pages are relative, so a static build works
from any directory; feed autodiscovery links and the canonical URL are absolute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from markupsafe import Markup

from feedbot.articles.dates import format_date, rfc3339, utc
from feedbot.articles.model import Article, DatePrecision, Entry
from feedbot.config import FeedSettings
from feedbot.publish.body import clean_article, clean_text
from feedbot.publish.feeds import article_html, article_path, article_url, feed_url

__all__ = [
    "PER_PAGE",
    "index_page_count",
    "index_path",
    "render_article",
    "render_index",
    "render_not_found",
]

PER_PAGE = 20  # articles on one index page

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("feedbot", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def index_path(page: int) -> str:
    """Path of index page ``page`` (1-based): ``index.html``, ``page/2.html``, ..."""
    return "index.html" if page == 1 else f"page/{page}.html"


def index_page_count(total: int) -> int:
    """How many index pages ``total`` articles fill (at least one, which may be empty)."""
    return max(1, -(-total // PER_PAGE))


@dataclass(frozen=True, slots=True)
class _Item:
    href: str
    headline: str
    lang: str
    date: str
    datetime: str
    summary: str


def _headline(article: Article) -> str:
    return article.headline or article.id


def _common(feed: FeedSettings, root: str, lang: str) -> dict[str, Any]:
    return {
        "site": {"title": clean_text(feed.title), "subtitle": clean_text(feed.subtitle)},
        "feeds": {fmt: feed_url(feed, fmt) for fmt in ("atom", "rss", "json")},
        "root": root,
        "lang": lang,
        "canonical": None,
        "description": None,
    }


def _render(template: str, context: dict[str, Any]) -> bytes:
    return _env.get_template(template).render(context).encode("utf-8")


def render_index(entries: Sequence[Entry], page: int, pages: int, feed: FeedSettings) -> bytes:
    """Index page ``page`` of ``pages``: ``entries`` (newest first) with date and lead summary."""
    items = []
    for entry in entries:
        article = clean_article(entry.article)
        lang = article.language if article.language not in ("", "und") else feed.language
        items.append(
            _Item(
                href=article_path(article.id),
                headline=_headline(article),
                lang=lang,
                date=format_date(article.date.value, article.date.precision, feed.language),
                datetime=rfc3339(article.date.value),
                summary=article.lead_summary,
            )
        )
    root = "" if page == 1 else "../"
    context = _common(feed, root, feed.language)
    context.update(
        items=items,
        page=page,
        pages=pages,
        prev_href=index_path(page - 1) if page > 1 else "",
        next_href=index_path(page + 1) if page < pages else "",
        description=clean_text(feed.subtitle),
    )
    return _render("index.html", context)


def render_article(entry: Entry, feed: FeedSettings) -> bytes:
    """The page of one article: headline, dates, lead summary at the top, then the body."""
    article = clean_article(entry.article)
    lang = article.language if article.language not in ("", "und") else feed.language
    published = article.date.value
    updated = entry.updated if utc(entry.updated) != utc(published) else None
    context = _common(feed, "../", lang)
    context.update(
        headline=_headline(article),
        summary=article.lead_summary,
        description=article.lead_summary or None,
        canonical=article_url(feed, article.id),
        published=format_date(published, article.date.precision, lang),
        published_iso=rfc3339(published),
        updated=(format_date(updated, DatePrecision.INSTANT, lang) if updated else None),
        updated_iso=rfc3339(updated) if updated else None,
        body=Markup(article_html(article)),  # noqa: S704 - escaped by article_html itself
    )
    return _render("article.html", context)


def render_not_found(feed: FeedSettings) -> bytes:
    """The 404 page (links are root-absolute: it is served at any depth)."""
    return _render("404.html", _common(feed, "/", feed.language))
