"""Full-text search on both engines: written with the article, found by word forms,
never found removed or scheduled, ranked by relevance and recency, and the same
articles on SQLite and PostgreSQL for the same query."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from feedbot.articles.model import Article
from feedbot.articles.parse import parse
from feedbot.search.query import parse as query
from feedbot.store import Store
from feedbot.store.search import WORDS_KEY
from feedbot.store.search import backfill as search_backfill
from tests.pgserver import Server, unique_name
from tests.storekit import add, remove

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def make(n: int, headline: str, *paragraphs: str, day: str = "2026-03-01") -> Article:
    body = "\n\n".join(paragraphs or ("Testo.",))
    return parse(f"{n:03d}_{n:016x}.txt", f"date {day} {headline}\n\n{body}\n".encode())


def found(store: Store, typed: str, now: datetime = NOW) -> list[str]:
    return [hit.article.id for hit in store.search.find(query(typed), now).entries]


CORPUS = [
    make(1, "La riforma delle pensioni", "Il governo approva la riforma in aula a Roma."),
    make(2, "Roma, la città eterna", "Turisti in città per il giubileo.", day="2026-03-02"),
    make(
        3,
        "Pension reforms pass",
        "The parliament has passed the reforms to pensions, and this is what they will do.",
        day="2026-02-01",
    ),
    make(
        4, "Calcio", "La Lazio vince il derby di Roma.", "Risultato: due a uno.", day="2026-03-03"
    ),
    make(
        5,
        "Economia",
        "Le riforme economiche del governo tardano e non si sa quando arriveranno.",
        day="2025-12-01",
    ),
    make(6, "Running and more", "She runs; they ran; running shoes.", day="2026-03-04"),
]


def fill(store: Store) -> None:
    for article in CORPUS:
        add(store, article, NOW)


def test_word_forms_accents_phrases_and_exclusions(store: Store) -> None:
    fill(store)
    assert set(found(store, "riforme")) == {CORPUS[0].id, CORPUS[4].id}  # riforma, riforme
    assert found(store, "reform") == [CORPUS[2].id]  # "reforms"
    assert found(store, "citta") == [CORPUS[1].id]  # città
    assert found(store, "CITTÀ eterna") == [CORPUS[1].id]
    assert set(found(store, "roma")) == {CORPUS[0].id, CORPUS[1].id, CORPUS[3].id}
    assert set(found(store, "roma -lazio")) == {CORPUS[0].id, CORPUS[1].id}
    assert found(store, '"derby di roma"') == [CORPUS[3].id]
    assert found(store, '"roma di derby"') == []
    assert found(store, "runs") == [CORPUS[5].id]
    assert found(store, "nulla") == []


@pytest.mark.parametrize(
    "typed",
    [
        "NEAR(roma lazio, 2)",
        "rom*",
        "^roma",
        "headline:roma",
        "{headline headings}: roma",
        "roma AND OR NOT",
        '"unbalanced roma',
        "roma & !lazio | x <-> y",
        "'roma':* & lazio:A",
        "\\ ' \" ( ) : * ^ + - ! & | < >",
        "-roma",
        "\x00roma\x01",
        "roma" + "\u0301" * 5,
    ],
)
def test_engine_syntax_is_only_text(store: Store, typed: str) -> None:
    fill(store)
    found(store, typed)  # never raises: the engine never reads the user's syntax


def test_removed_scheduled_and_edited_articles(store: Store) -> None:
    fill(store)
    remove(store, CORPUS[1].id, NOW)
    assert found(store, "citta") == []
    future = make(7, "Pensioni future", "Testo.", day="2026-03-10T18:00:00Z")
    add(store, future, NOW)
    assert CORPUS[0].id in found(store, "pensioni") and future.id not in found(store, "pensioni")
    store.articles.release_due(NOW + timedelta(days=1))
    assert future.id in found(store, "pensioni", NOW + timedelta(days=1))
    edited = make(4, "Calcio", "La Roma perde la finale.", day="2026-03-03")
    add(store, edited, NOW, content_hash="other")
    assert found(store, "lazio") == []
    assert CORPUS[3].id in found(store, "finale")


def test_headline_outweighs_text_and_recency_breaks_ties(store: Store) -> None:
    add(store, make(1, "Notizie", "Si parla di vaccini oggi.", day="2026-03-01"), NOW)
    add(store, make(2, "Vaccini", "Oggi se ne parla.", day="2026-03-01"), NOW)
    assert found(store, "vaccini")[0] == make(2, "Vaccini").id
    add(store, make(3, "Mercati", "Borsa in calo.", day="2026-01-01"), NOW)
    add(store, make(4, "Mercati", "Borsa in calo.", day="2026-03-09"), NOW)
    assert found(store, "borsa") == [make(4, "x").id, make(3, "x").id]


def test_a_heading_outweighs_the_text_and_each_term_counts(store: Store) -> None:
    text_only = make(1, "Notizie", "Oggi si parla di vaccini e di scuole.")
    in_heading = make(2, "Notizie", "Cronaca.", "I vaccini", "Se ne parla, e di scuole.")
    in_headline = make(3, "Vaccini", "Si parla di scuole.")
    both = make(4, "Vaccini e scuole", "Oggi.", day="2026-02-20")
    for article in (text_only, in_heading, in_headline, both):
        add(store, article, NOW)
    assert found(store, "vaccini") == [in_headline.id, both.id, in_heading.id, text_only.id]
    assert found(store, "vaccini scuole")[0] == both.id  # two headline terms, though older


def backfill(store: Store, stop: Callable[[], bool] | None = None) -> int | None:
    return search_backfill(store.db, store.db.write, stop)


def test_backfill_indexes_what_the_index_lacks_and_rebuilds_on_new_words(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fill(store)
    future = make(7, "Pensioni future", "Testo.", day="2026-03-10T18:00:00Z")
    add(store, future, NOW)  # scheduled: not indexed, not backfilled
    remove(store, CORPUS[5].id, NOW)  # removed: the same
    assert backfill(store) == len(CORPUS) - 1  # no words version yet: all published, once
    assert backfill(store) == 0
    with store.db.write() as conn:
        conn.execute(text("DELETE FROM search_docs WHERE article_id = :a"), {"a": CORPUS[1].id})
        if store.db.dialect == "sqlite":
            conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('delete-all')"))
            conn.execute(text("DELETE FROM search_docs"))
    caplog.set_level("INFO", "feedbot.search")
    assert store.articles.complete_search()
    assert found(store, "citta") == [CORPUS[1].id]
    assert any("search index:" in r.getMessage() for r in caplog.records)
    store.db.set_state(WORDS_KEY, "0 an older stemmer")
    assert backfill(store, stop=lambda: True) is None  # asked to stop: the rest waits
    assert backfill(store) == len(CORPUS) - 1
    assert backfill(store) == 0


QUERIES = [
    "riforme",
    "pensioni",
    "reforms",
    "citta",
    "roma -lazio",
    '"la riforma"',
    "governo riforme",
    "runs",
    "ran",
    "di",
    "a -roma",
    "the",
    '"passed reforms"',
    "eterna OR turisti",
    "2026",
]


@pytest.mark.postgresql
def test_both_engines_find_the_same_articles(
    tmp_path: Path, pg_url: str, seed_bytes: bytes
) -> None:
    corpus = [*CORPUS, parse("000_52a7b11c330feae9.txt", seed_bytes)]
    sqlite = Store.open(tmp_path / "a.sqlite3")
    postgres = Store.open(tmp_path / "unused", url=pg_url)
    try:
        for store in (sqlite, postgres):
            for article in corpus:
                add(store, article, NOW)
        words = {w for a in corpus for w in a.headline.split()} | set(QUERIES)
        for typed in sorted(words):  # one ranking, computed alike: the same order too
            assert found(sqlite, typed) == found(postgres, typed), typed
    finally:
        sqlite.close()
        postgres.close()


def test_sqlite_ranks_alike_whether_it_asks_the_fields_by_key_or_by_walk(
    tmp_path: Path, seed_bytes: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite asks which candidates hold a term in a field by key when they are few
    (`finder._FEW`) and by a walk from the oldest otherwise: both give one ranking."""
    store = Store.open(tmp_path / "a.sqlite3")
    try:
        corpus = [*CORPUS, parse("000_52a7b11c330feae9.txt", seed_bytes)]
        for article in corpus:
            add(store, article, NOW)
        words = sorted({w for a in corpus for w in a.headline.split()} | set(QUERIES))
        monkeypatch.setattr("feedbot.store.finder._FEW", 10**6)
        by_key = {typed: found(store, typed) for typed in words}
        monkeypatch.setattr("feedbot.store.finder._FEW", 0)
        assert {typed: found(store, typed) for typed in words} == by_key
        assert sum(len(hits) > 1 for hits in by_key.values()) > 5  # rankings, not lone hits
    finally:
        store.close()


def test_newest_first_for_a_searchs_feed(store: Store) -> None:
    fill(store)
    hits = store.search.find(query("roma"), NOW, newest=True).entries
    assert [h.article.id for h in hits] == [CORPUS[3].id, CORPUS[1].id, CORPUS[0].id]
    assert len(store.search.find(query("roma"), NOW, newest=True, limit=2, offset=1).entries) == 2


def test_an_edit_that_moves_the_date_and_a_removal_keep_the_index_exact(store: Store) -> None:
    fill(store)
    moved = make(1, "La riforma delle pensioni", "Il governo approva la riforma.", day="2026-03-09")
    add(store, moved, NOW, content_hash="moved")
    hits = store.search.find(query("riforma"), NOW, newest=True).entries
    assert hits[0].article.id == moved.id  # now the newest, by its new date
    remove(store, moved.id, NOW)
    assert moved.id not in found(store, "riforma")
    add(store, moved, NOW, content_hash="back")  # the file came back
    assert moved.id in found(store, "riforma")
    from sqlalchemy import func, select

    from feedbot.store.schema import search_docs

    with store.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(search_docs)) == len(CORPUS)


def _segments(store: Store) -> int:
    with store.db.read() as conn:
        return int(conn.scalar(text("SELECT count(DISTINCT segid) FROM search_fts_idx")) or 0)


def test_a_bulk_of_writes_is_merged_once_into_one_segment(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("feedbot.store.articles.MERGE_AFTER", len(CORPUS))
    for article in CORPUS[:-1]:  # one transaction each: a segment each
        add(store, article, NOW)
    assert store.articles.tidy_search()  # fewer than MERGE_AFTER: left as they are
    sqlite = store.db.dialect == "sqlite"
    if sqlite:
        assert _segments(store) > 1
    add(store, CORPUS[-1], NOW)
    before = {typed: found(store, typed) for typed in QUERIES}
    assert store.articles.tidy_search(stop=lambda: True) is False  # asked to stop: it waits
    assert store.articles.tidy_search()
    if sqlite:
        assert _segments(store) == 1
    assert {typed: found(store, typed) for typed in QUERIES} == before


def test_postgresqls_pending_list_is_emptied_after_any_write(store: Store) -> None:
    """GIN keeps new entries in a pending list that every search reads through; the
    tidy after a scan moves them into the index (a no-op left them for a vacuum)."""
    if store.db.dialect == "sqlite":
        return
    for article in CORPUS[:3]:
        add(store, article, NOW)
    assert store.articles.tidy_search()
    with store.db.read() as conn:  # what is left to clean: nothing
        assert conn.scalar(text("SELECT gin_clean_pending_list('search_docs_vector')")) == 0
    assert {typed: found(store, typed) for typed in QUERIES}  # still found


@pytest.mark.postgresql
def test_a_role_that_may_not_clean_the_pending_list_is_told_once_and_searches_on(
    tmp_path: Path,
    pg_server: Server,
    new_pg_database: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Only the GIN index's owner may empty its pending list: a daemon whose role was
    granted the tables but owns none logs one warning and goes on storing and finding."""
    url = new_pg_database()
    Store.open(tmp_path / "unused", url=url).close()  # the schema, made by the owner
    role, name = unique_name("feedbot_role"), url.rsplit("/", 1)[1]
    with pg_server.connect(name) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    store = Store.open(tmp_path / "unused", url=str(make_url(url).set(username=role)))
    try:
        with caplog.at_level(logging.WARNING, logger="feedbot.search"):
            for article in CORPUS[:2]:
                add(store, article, NOW)
                assert store.articles.tidy_search()
        told = [r.getMessage() for r in caplog.records if "pending" in r.getMessage()]
        assert len(told) == 1 and "must be owner" in told[0], told
        assert found(store, "riforme") == [CORPUS[0].id]
    finally:
        store.close()
        with pg_server.connect(name) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_the_newest_matches_are_found_however_far_apart_their_months(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = ["2026-03-01", "2026-02-15", "2025-11-01", "2024-06-01", "2019-01-01", "2012-05-05"]
    for n, day in enumerate(days, 1):
        add(store, make(n, f"Borsa {n}", "Mercati in calo.", day=day), NOW)
    add(store, make(9, "Meteo", "Sole.", day="2026-03-09"), NOW)  # the newest: no match
    everyone = [make(n, "x").id for n in range(1, len(days) + 1)]
    for window in (1, 2, 3, 5, 6, 50):  # the newest `window` of the matches, from the months
        monkeypatch.setattr("feedbot.store.finder.CANDIDATES", window)
        hits = store.search.find(query("borsa"), NOW, newest=True, limit=50).entries
        assert [h.article.id for h in hits] == everyone[:window], window
        assert {h.article.id for h in store.search.find(query("borsa"), NOW).entries} == set(
            everyone[:window]
        )


def test_sqlite_index_holds_exactly_the_current_words(tmp_path: Path) -> None:
    """FTS5 keeps no copy of the words (revision 0008): each deletion gives them again,
    made from the article row. A wrong one would leave words behind: checked here from
    the index itself, after every kind of change."""
    from sqlalchemy import select

    from feedbot.search.words import document
    from feedbot.store.schema import search_docs
    from feedbot.store.search import MONTH_MARK, YEAR_MARK, month_of

    store = Store.open(tmp_path / "exact.sqlite3")
    try:
        fill(store)
        add(store, make(1, "Riforma", "Nuovo testo.", day="2026-03-01"), NOW, content_hash="a")
        add(store, make(2, "Roma", "Spostato.", day="2026-03-08"), NOW, content_hash="b")
        add(store, CORPUS[3], NOW)  # touched only: the same words written again
        remove(store, CORPUS[4].id, NOW)
        add(store, make(6, "Running", "Later.", day="2026-03-10T18:00:00Z"), NOW, content_hash="c")
        store.articles.release_due(NOW + timedelta(days=1))
        add(store, CORPUS[4], NOW, content_hash="back")
        with store.db.read() as conn:
            conn.execute(
                text("CREATE VIRTUAL TABLE temp.v USING fts5vocab(main, search_fts, instance)")
            )
            held = sorted(tuple(r) for r in conn.execute(text("SELECT doc, term FROM temp.v")))
            docids = dict(conn.execute(select(search_docs.c.article_id, search_docs.c.docid)).all())
            conn.execute(text("DROP TABLE temp.v"))
        entries = {e.article.id: e.article for e in store.articles.newest(0, 100)}
        assert set(docids) == set(entries)
        want = sorted(
            (docids[i], w)
            for i, a in entries.items()
            for field in document(a).columns()
            for w in field.split()
        )
        months = {d: month_of(d) for d in docids.values()}  # and each its month and year
        want += [(d, f"{MONTH_MARK}{m}") for d, m in months.items()]
        want += [(d, f"{YEAR_MARK}{m // 12}") for d, m in months.items()]
        assert held == sorted(want)
    finally:
        store.close()


def test_an_old_headline_outranks_recent_mentions_on_every_page(store: Store) -> None:
    """The documented ranking, computed here independently: per term 10 in the headline,
    1 in the text, divided by 1 + age / 30 days; ties to the newest. The fields are asked
    only for candidates that could still place on the page asked for (a bound): an old
    headline that can place must, on each page."""
    articles: list[tuple[Article, float]] = []
    for n in range(1, 46):  # recent mentions in the text, one a day
        day = NOW - timedelta(days=n)
        articles.append((make(n, f"Notizie {n}", "Si parla di borsa.", day=f"{day:%Y-%m-%d}"), 1))
    for n, days in ((90, 200), (91, 400), (92, 3000)):  # headlines, older and older
        day = NOW - timedelta(days=days)
        articles.append((make(n, "La borsa", "Mercati.", day=f"{day:%Y-%m-%d}"), 10))
    for article, _ in articles:
        add(store, article, NOW)

    def score(item: tuple[Article, float]) -> tuple[float, datetime]:
        article, relevance = item
        age = max(0.0, (NOW - article.date.value).total_seconds() / 86400)
        return relevance / (1 + age / 30), article.date.value

    expected = [a.id for a, _ in sorted(articles, key=score, reverse=True)]
    pages = [
        [h.article.id for h in store.search.find(query("borsa"), NOW, offset=o, limit=20).entries]
        for o in (0, 20, 40)
    ]
    assert pages == [expected[:20], expected[20:40], expected[40:60]]
    assert expected.index(make(90, "x").id) == 0 and make(92, "x").id in pages[2]
