"""Every article link the bot sends, built in one place (`ArticleLinks`): the article's
page, or with ``telegram.instant_view_rhash`` its Instant View — checked on what reaches
the emulator through python-telegram-bot (posts, their button and preview, /latest,
/search, inline results) and on the digest and the compact and headlines styles."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from feedbot.articles.model import Entry
from feedbot.config import FeedSettings
from feedbot.errors import ConfigError
from feedbot.fakegram import FakeBotAPI
from feedbot.publish.urls import article_url
from feedbot.store import Store
from feedbot.telegram.assemble import build_service, post_shape
from feedbot.telegram.render.links import ArticleLinks
from feedbot.telegram.render.styles import render_digest
from tests.botkit import BASE_URL, assert_token_absent, make_settings
from tests.sitekit import article
from tests.telegram import test_bot
from tests.telegram.test_bot import USER, Bot
from tests.telegram.test_search_bot import publish

fake = test_bot.fake
RHASH = "71b64d09b0a20d"
FEED = FeedSettings(base_url="https://news.example/it/", title="News")


def expected(article_id: str, rhash: str | None) -> str:
    """What a link to ``article_id`` must be, written out here rather than by the helper."""
    page = f"{BASE_URL}articles/{article_id}.html"
    if rhash is None:
        return page
    return "https://t.me/iv?url=" + quote(page, safe="") + "&rhash=" + rhash


class _Hrefs(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [v or "" for k, v in attrs if tag == "a" and k == "href"]


def links_in(html: str, params: dict[str, Any] | None = None) -> list[str]:
    """The URLs of a message: its links, its buttons' and its link preview's."""
    params = params or {}
    found = _Hrefs(html).hrefs
    markup = params.get("reply_markup") or {}
    found += [b["url"] for row in markup.get("inline_keyboard", []) for b in row if "url" in b]
    preview = params.get("link_preview_options") or {}
    found += [preview["url"]] if preview.get("url") else []
    return found


def articles_only(urls: Iterable[str]) -> list[str]:
    return [u for u in urls if "articles" in u or "t.me/iv" in u]


def test_unset_is_the_article_page_and_set_is_instant_view() -> None:
    page = article_url(FEED, "007_0000000000000007")
    assert ArticleLinks(FEED)("007_0000000000000007") == page
    assert ArticleLinks(FEED, "")("007_0000000000000007") == page
    iv = ArticleLinks(FEED, RHASH)("007_0000000000000007")
    parts = urlsplit(iv)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "t.me", "/iv")
    assert parse_qs(parts.query, strict_parsing=True) == {"url": [page], "rhash": [RHASH]}
    assert "/" not in parts.query and ":" not in parts.query  # the page is percent-encoded


@pytest.mark.parametrize(
    "value",
    ["71B64D09B0A20D", "abc", "71b64d09b0a20d&x=1", "0123456789abcdef0123456789abcdef0", "z" * 14],
)
def test_a_value_that_is_not_a_hash_is_refused_without_echoing_it(
    tmp_path: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedbot.config import load_settings

    monkeypatch.setenv("FEEDBOT_TELEGRAM__INSTANT_VIEW_RHASH", value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_empty_config(tmp_path))
    assert "telegram.instant_view_rhash" in str(caught.value)
    assert value not in str(caught.value)


def _empty_config(tmp_path: Path) -> Path:
    path = tmp_path / "feedbot.toml"
    path.write_text("")
    return path


@pytest.mark.parametrize("rhash", [None, RHASH])
def test_digest_and_every_style(tmp_path: Path, rhash: str | None) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:1/bot", instant_view_rhash=rhash)
    shape = post_shape(settings)
    entry = Entry.of(article(7, language="en"))
    want = expected(entry.article.id, rhash)
    for style in ("full", "compact", "headlines"):
        found = articles_only(
            u for piece in shape.post(entry, "en", style) for u in links_in(piece)
        )
        assert found and set(found) == {want}, style
    digest = render_digest([entry], url_for=shape.url, language="en")
    assert set(articles_only(u for piece in digest for u in links_in(piece))) == {want}


@pytest.mark.parametrize("rhash", [None, RHASH])
async def test_every_link_through_the_bot(
    database_url: str,
    fake: FakeBotAPI,
    store: Store,
    tmp_path: Path,
    rhash: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(
        tmp_path,
        fake.base_url,
        storage_url=database_url,
        button="beside",
        link_preview="small-below",
        instant_view_rhash=rhash,
    )
    service = build_service(settings, store)
    await service.start()
    await service.lead()
    try:
        bot = Bot(fake, store, service, tmp_path)
        chat = bot.chat()
        await chat.send("/start")
        ids = await publish(bot, 2)
        want = {expected(i, rhash) for i in ids}
        service.wake()
        await fake.wait_for(lambda: sum("riforma" in t for t in fake.texts(USER)) >= 2)
        posts = [s for s in fake.sent if s.chat_id == USER and "riforma" in s.text]
        for post in posts:  # the text link, the button and the preview
            found = articles_only(links_in(post.text, post.params))
            assert len(found) == 3 and len(set(found)) == 1 and set(found) <= want
        latest = articles_only(links_in(await chat.send("/latest")))
        assert set(latest) == want
        search = articles_only(links_in(await chat.send("/search riforme")))
        assert set(search) == want
        fake.set_inline()
        query_id = fake.inline_query("riforme", user_id=USER, chat_id=-1009999)
        await fake.wait_for(lambda: fake.inline_answer(query_id) is not None)
        answer = fake.inline_answer(query_id)
        assert answer is not None and len(answer.results) == 2
        for result in answer.results:
            content = result["input_message_content"]
            found = [result["url"], *links_in(content["message_text"], content)]
            assert len(set(found)) == 1 and set(found) <= want
    finally:
        await service.stop()
    assert_token_absent(caplog.records, caplog.handler.formatter or logging.Formatter())
