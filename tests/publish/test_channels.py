"""Feeds of a language and of a search: their own ids, paths, titles and links, valid
like the site's feed (RFC 4287 schema, feedparser)."""

from __future__ import annotations

import json

import feedparser
import pytest

from feedbot.articles.model import Entry
from feedbot.publish.feeds import FeedDoc, render_atom, render_json, render_rss
from feedbot.publish.urls import MAIN, Channel, feed_url
from tests.publish.test_feeds import BASE, FEED, check_atom, links, make_article

ENTRIES = [Entry.of(make_article(i)) for i in (2, 1)]


def test_the_main_feed_keeps_its_id_and_paths() -> None:
    assert MAIN.path("atom") == "feed.atom" and MAIN.path("rss", 3) == "archive/3.rss"
    assert MAIN.feed_id(FEED) == "tag:news.example,2026:feed"


def test_a_language_feed() -> None:
    it = Channel(language="it")
    assert it.path("atom") == "it/feed.atom" and it.path("json", 2) == "it/archive/2.json"
    data = render_atom(FeedDoc(ENTRIES, None, 3, it), FEED)
    root = check_atom(data, BASE + "it/feed.atom")
    assert links(root)["prev-archive"] == [BASE + "it/archive/3.atom"]
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    assert parsed.feed.id == "tag:news.example,2026:feed:it"
    assert parsed.feed.title == "Example News (italiano)"


@pytest.mark.parametrize("query", ["pensioni", 'riforma -"a b" & <b>', "città/è?"])
def test_a_search_feed(query: str) -> None:
    channel = Channel(query=query)
    data = render_atom(FeedDoc(ENTRIES, None, 0, channel), FEED)
    self_url = feed_url(FEED, "atom", None, channel)
    assert self_url.startswith(BASE + "search.atom?q=")
    root = check_atom(data, self_url, channel.home(FEED))
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0
    assert parsed.feed.id.startswith("tag:news.example,2026:search:")
    assert " " not in parsed.feed.id and "<" not in parsed.feed.id
    assert parsed.feed.title == f"Example News: {query}"
    assert links(root)["alternate"][0].startswith(BASE + "search?q=")
    assert feedparser.parse(render_rss(FeedDoc(ENTRIES, None, 0, channel), FEED)).bozo == 0
    obj = json.loads(render_json(FeedDoc(ENTRIES, None, 0, channel), FEED))
    assert obj["feed_url"] == feed_url(FEED, "json", None, channel)
    assert "hubs" not in obj


def test_search_feed_ids_are_the_same_in_every_format_and_differ_by_query() -> None:
    a, b = Channel(query="a b"), Channel(query="a -b")
    assert a.feed_id(FEED) != b.feed_id(FEED)
    atom = feedparser.parse(render_atom(FeedDoc(ENTRIES, None, 0, a), FEED)).feed.id
    rss = feedparser.parse(render_rss(FeedDoc(ENTRIES, None, 0, a), FEED))
    assert atom == a.feed_id(FEED)
    assert rss.bozo == 0
