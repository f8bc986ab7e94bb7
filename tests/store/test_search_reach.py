"""A costly search reads only the newest share of a large archive (`feedbot.search.reach`)
and says so: on both engines, what it finds is exactly the matches from its floor on,
and the site's results page and the bot's reply give the date it read back to. A plain
search, and one that found enough before its floor, read as before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from feedbot.app import searches
from feedbot.articles.dates import format_date
from feedbot.articles.model import Article, DatePrecision
from feedbot.articles.parse import parse
from feedbot.config import Settings
from feedbot.publish.results import Searches
from feedbot.search.query import parse as query
from feedbot.store import Store
from feedbot.telegram.render.messages import render_search_results
from tests.storekit import add

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FIRST = datetime(2023, 1, 1, tzinfo=UTC)
FOUR = "riforma pensioni governo aula"  # four words (and the marks): 3/5 of the archive


def monthly(months: int = 40) -> list[Article]:
    """An article on the first of each month from `FIRST`, all holding `FOUR`'s words."""
    out = []
    for n in range(months):
        day = datetime(FIRST.year + n // 12, n % 12 + 1, 1, tzinfo=UTC)
        text = (
            f"date {day:%Y-%m-%d} Notizia {n}\n\nLa riforma delle pensioni del governo in aula.\n"
        )
        out.append(parse(f"{n:03d}_{n:016x}.txt", text.encode()))
    return out


@pytest.fixture
def archive(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[Article]:
    """`monthly` stored, and every archive counted large (no floor of work)."""
    monkeypatch.setattr("feedbot.search.reach.WORK_FLOOR", 0)
    articles = monthly()
    for article in articles:
        add(store, article, NOW)
    return articles


def test_a_costly_search_reads_the_newest_share_and_says_since_when(
    store: Store, archive: list[Article]
) -> None:
    found = store.search.find(query(FOUR), NOW, limit=50, newest=True)
    newest, oldest = archive[-1].date.value, archive[0].date.value
    expected = newest - (newest - oldest) * 0.6
    assert found.since is not None
    assert abs(found.since - expected) < timedelta(seconds=2)
    want = [a.id for a in reversed(archive) if a.date.value >= found.since]
    assert [e.article.id for e in found.entries] == want  # every match from the floor on
    assert 20 <= len(want) <= 28
    ranked = store.search.find(query(FOUR), NOW, limit=50)  # ranked: the same floor
    assert ranked.since == found.since
    assert {e.article.id for e in ranked.entries} == set(want)
    excluding = store.search.find(query("riforma pensioni governo -calcio"), NOW, limit=50)
    assert excluding.since is not None  # an excluded word is read as well
    assert {e.article.id for e in excluding.entries} == {
        a.id for a in archive if a.date.value >= excluding.since
    }


def test_plain_searches_and_enough_matches_read_as_before(
    store: Store, archive: list[Article], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = store.search.find(query("riforma pensioni governo"), NOW, limit=50)
    assert plain.since is None and len(plain.entries) == len(archive)
    monkeypatch.setattr("feedbot.store.finder.CANDIDATES", 5)  # found enough before the floor
    enough = store.search.find(query(FOUR), NOW, limit=50, newest=True)
    assert enough.since is None
    assert [e.article.id for e in enough.entries] == [a.id for a in reversed(archive[-5:])]


def test_a_small_archive_is_read_whole(store: Store) -> None:
    for article in monthly():
        add(store, article, NOW)  # 40 articles: far below the floor of work
    found = store.search.find(query(FOUR + " -calcio -tennis"), NOW, limit=50)
    assert found.since is None and len(found.entries) == 40


class Meta(HTMLParser):
    """The texts of a results page's ``<p class="meta">`` paragraphs."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._open = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open = tag == "p" and ("class", "meta") in attrs
        if self._open:
            self.texts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._open = self._open and tag != "p"

    def handle_data(self, data: str) -> None:
        if self._open:
            self.texts[-1] += data


@pytest.mark.parametrize("language", ["en", "it"])
def test_the_page_and_the_bot_say_how_far_back(
    store: Store, archive: list[Article], language: str
) -> None:
    since = store.search.find(query(FOUR), NOW).since
    assert since is not None
    feed = Settings().feed.model_copy(update={"language": language})
    site = searches(store, feed)
    asked = Searches.asked("search", f"q={FOUR.replace(' ', '+')}")
    assert asked is not None
    page = Meta(site.get(asked).body.decode()).texts
    day = format_date(since, DatePrecision.DAY, language)  # as the page writes dates
    said = {
        "en": f"Searched the articles since {day} only: fewer words search further back.",
        "it": f"Cercato solo tra gli articoli dal {day}: "
        "con meno parole la ricerca va più indietro.",
    }
    assert said[language] in page
    plain = Searches.asked("search", "q=riforma+pensioni")
    assert plain is not None
    assert not any(
        "Searched" in t or "Cercato" in t for t in Meta(site.get(plain).body.decode()).texts
    )

    found = store.search.find(query(FOUR), NOW, limit=5)
    reply = render_search_results(
        found.entries,
        query=query(FOUR),
        typed=FOUR,
        url_for=str,
        language=language,
        since=found.since,
    )
    last = reply.splitlines()[-1]
    assert last == f"<i>{said[language]}</i>"


def test_the_marks_cannot_be_typed(store: Store, archive: list[Article]) -> None:
    """The month and year marks are private-use characters, no part of a word: typed (as
    they are stored, or beside the digits), a search finds what it finds without them,
    never the articles of that month or year."""
    from feedbot.store.search import MONTH_MARK, YEAR_MARK, month_of, seconds

    def ids(typed: str) -> list[str]:
        return [e.article.id for e in store.search.find(query(typed), NOW, limit=50).entries]

    month = month_of(seconds(archive[-1].date.value) << 24)
    for mark, number in ((YEAR_MARK, month // 12), (MONTH_MARK, month)):
        for typed in (f"{mark}{number}", f"{mark} {number}", mark):
            assert ids(typed) == ids(typed.replace(mark, " ")) == []
            bare = f"{typed} riforma".replace(mark, " ")
            assert ids(f"{typed} riforma") == ids(bare)
    assert len(ids(f"{MONTH_MARK} riforma")) == len(archive)  # the mark alone: no word
