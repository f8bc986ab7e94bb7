"""Which subscriptions a new article is queued for (`queue_posts`, through the indexer's
write): instant ones whose language and keyword filters take it, each topic on its
own, the channels — never digest subscriptions — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from feedbot.store import Store, subscriptions
from tests.sitekit import article
from tests.storekit import add, deliveries_for

NOW = datetime(2026, 1, 10, 12, tzinfo=UTC)


def setup(store: Store) -> None:
    def sub(chat: str, thread: int = 0, **values: object) -> None:
        store.chats.subscribe(chat, kind="private", title=None, thread_id=thread, now=NOW)
        if values:
            assert store.subscriptions.update(chat, thread, None, **values) is not None

    sub("1")  # plain
    sub("2", terms=("+roma",))
    sub("3", terms=("+roma",))  # the same filter as 2: matched once, both queued
    sub("4", terms=("+parigi",))
    sub("5", terms=("+roma", "-calcio"))
    sub("6", mode="digest", digest="daily 08:00")
    sub("7", languages=("it",))
    sub("8", languages=("en",))
    sub("-100", 5)  # a forum topic
    sub("-100", 6, terms=("+parigi",))  # another topic of it, which does not take it


@pytest.mark.parametrize("chunk", [5000, 1])
def test_an_article_is_queued_for_the_subscriptions_that_take_it(
    store: Store, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscriptions, "IN_CHUNK", chunk)  # one IN (…) or one per filter
    setup(store)
    new = article(1, headline="Roma di sera", language="it")
    assert add(store, new, NOW, channels=["@news", "1"])
    got = {(r["chat"], r["thread_id"], r["kind"]) for r in deliveries_for(store, new.id)}
    assert got == {
        ("1", 0, "post"),
        ("2", 0, "post"),
        ("3", 0, "post"),
        ("5", 0, "post"),
        ("7", 0, "post"),
        ("-100", 5, "post"),
        ("@news", 0, "post"),
    }
    calcio = article(2, headline="Roma, il calcio", language="en")
    assert add(store, calcio, NOW)
    got = {r["chat"] for r in deliveries_for(store, calcio.id)}
    assert got == {"1", "2", "3", "8", "-100"}
