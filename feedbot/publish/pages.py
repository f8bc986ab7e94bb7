"""HTML pages: the paged index, one page per article, the 404 page — pure: entries in, bytes out.

Templates live in ``feedbot/templates`` (Jinja2, autoescape on): article text is
text. The only markup taken as is comes from `feeds.article_html`, which escapes
every string itself. Links between pages are relative, so a static build works
from any directory; feed autodiscovery links and the canonical URL are absolute.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from babel.core import get_global
from markupsafe import Markup

from feedbot.articles.dates import format_date, rfc3339, utc
from feedbot.articles.i18n import translator
from feedbot.articles.model import Article, DatePrecision, Entry
from feedbot.config import FeedSettings
from feedbot.publish.body import clean_article, clean_text
from feedbot.publish.feeds import article_html, article_path, article_url, feed_url
from feedbot.publish.urls import Channel

__all__ = [
    "PER_PAGE",
    "index_page_count",
    "index_path",
    "labels",
    "render_article",
    "render_index",
    "render_not_found",
    "render_page",
]

PER_PAGE = 20  # articles on one index page

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("feedbot", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # the templates ship with the package: no stat of each at each render
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


def labels(language: str) -> dict[str, str]:
    """The pages' words in ``language`` (each page speaks one language throughout)."""
    _ = translator(language)
    return {
        "published": _("Published"),
        "updated": _("updated"),
        "all_articles": _("All articles"),
        "no_articles": _("No articles yet."),
        "newer": _("Newer"),
        "older": _("Older"),
        "pages": _("Pages"),
        "feeds": _("Feeds:"),
        "search": _("Search"),
        "search_articles": _("Search the articles"),
        "not_found": _("Not found"),
        "nothing_here": _("There is nothing at this address."),
        "see_all": _("See all articles"),
    }


def _common(
    feed: FeedSettings,
    root: str,
    lang: str,
    *,
    search: bool = True,
    languages: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        # each language's own feed, for readers that want one language (hreflang)
        "language_feeds": [
            (code, feed_url(feed, "atom", None, Channel(language=code))) for code in languages
        ],
        "site": {"title": clean_text(feed.title), "subtitle": clean_text(feed.subtitle)},
        "feeds": {fmt: feed_url(feed, fmt) for fmt in ("atom", "rss", "json")},
        "root": root,
        "lang": lang,
        "canonical": None,
        "description": None,
        "t": labels(lang),
        "search": search,  # the search box: only where a server answers /search
        "query": "",
    }


def _render(template: str, context: dict[str, Any]) -> bytes:
    return _env.get_template(template).render(context).encode("utf-8")


def render_page(template: str, feed: FeedSettings, root: str, **context: Any) -> bytes:
    """Any page of the site in the site's language: ``template`` (which extends
    ``base.html``) with ``context`` (``root`` leads back to the site's root)."""
    common = _common(feed, root, feed.language)
    common.update(context)
    return _render(template, common)


def render_index(
    entries: Sequence[Entry],
    page: int,
    pages: int,
    feed: FeedSettings,
    *,
    search: bool = True,
    languages: Sequence[str] = (),
) -> bytes:
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
    context = _common(feed, root, feed.language, search=search, languages=languages)
    context.update(
        items=items,
        page=page,
        pages=pages,
        prev_href=index_path(page - 1) if page > 1 else "",
        next_href=index_path(page + 1) if page < pages else "",
        description=clean_text(feed.subtitle),
    )
    return _render("index.html", context)


def render_article(
    entry: Entry, feed: FeedSettings, *, search: bool = True, languages: Sequence[str] = ()
) -> bytes:
    """The page of one article, in its language: headline, byline and dates, the lead
    summary when it adds to the first paragraph, then the body; in the head, what link
    previews read (Open Graph, Twitter card, JSON-LD ``NewsArticle``)."""
    article = clean_article(entry.article)
    lang = article.language if article.language not in ("", "und") else feed.language
    published = article.date.value
    updated = entry.updated if utc(entry.updated) != utc(published) else None
    canonical = article_url(feed, article.id)
    author = clean_text(feed.author_name)
    context = _common(feed, "../", lang, search=search, languages=languages)
    context.update(
        headline=_headline(article),
        summary=article.lead_summary if _adds(article) else "",
        description=article.lead_summary or None,
        canonical=canonical,
        author=author,
        og_locale=_og_locale(lang),
        published=format_date(published, article.date.precision, lang),
        published_iso=rfc3339(published),
        modified_iso=rfc3339(updated or published),
        updated=(format_date(updated, DatePrecision.INSTANT, lang) if updated else None),
        updated_iso=rfc3339(updated) if updated else None,
        body=Markup(article_html(article)),  # noqa: S704 - escaped by article_html itself
        json_ld=Markup(  # noqa: S704 - JSON with <, > and & escaped: inert inside <script>
            _script_json(
                {
                    "@context": "https://schema.org",
                    "@type": "NewsArticle",
                    "headline": _headline(article),
                    "description": article.lead_summary or None,
                    "datePublished": rfc3339(published),
                    "dateModified": rfc3339(updated or published),
                    "inLanguage": lang,
                    "url": canonical,
                    "mainEntityOfPage": canonical,
                    "author": {"@type": "Organization", "name": author},
                    "publisher": {"@type": "Organization", "name": clean_text(feed.title)},
                }
            )
        ),
    )
    return _render("article.html", context)


def _adds(article: Article) -> bool:
    """Whether the lead summary says more than the first paragraph's opening words: a
    summary of a one-paragraph lead repeats it, and is then left out."""
    summary = " ".join(article.lead_summary.split())
    first = next((b.text for s in article.sections for b in s.blocks), "")
    return bool(summary) and not " ".join(first.split()).startswith(summary)


def _og_locale(language: str) -> str:
    """``it`` → ``it_IT``: Open Graph wants a territory; the likeliest one (CLDR)."""
    likely: Mapping[str, str] = get_global("likely_subtags")
    parts = likely.get(language, language).split("_")
    territory = next((p for p in parts[1:] if p.isupper() and len(p) == 2), None)
    return f"{language}_{territory}" if territory else language


def _script_json(data: dict[str, Any]) -> str:
    """``data`` as JSON that cannot end its ``<script>`` element: <, > and & escaped."""
    text = json.dumps({k: v for k, v in data.items() if v is not None}, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_not_found(feed: FeedSettings) -> bytes:
    """The 404 page (links are root-absolute: it is served at any depth)."""
    return _render("404.html", _common(feed, "/", feed.language))
