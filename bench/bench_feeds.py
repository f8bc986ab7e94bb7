"""Render time of the main feed documents (50 newest entries of a 10,000-article corpus).

Only the rendering is timed: the corpus (`feedbot.articles.corpus`) is generated, parsed and
sorted first.
"""

from __future__ import annotations

from bench.common import Figure, best_of
from feedbot.articles.corpus import generate
from feedbot.articles.model import Entry
from feedbot.articles.parse import parse
from feedbot.config import FeedSettings
from feedbot.publish.feeds import (
    FeedDoc,
    archive_count,
    archive_range,
    render_atom,
    render_json,
    render_rss,
)

GOAL_MS = 50.0  # a change re-renders three main documents; well under a second in all


def run(quick: bool) -> list[Figure]:
    """Time render_atom / render_rss / render_json of the main document and one archive."""
    total = 1_000 if quick else 10_000
    feed = FeedSettings()
    per_page = feed.max_entries
    articles = [parse(name, data) for name, data in generate(total, seed=0)]
    articles.sort(key=lambda a: (a.date.value, a.seq, a.id), reverse=True)
    entries = [Entry.of(a) for a in articles]
    archives = archive_count(len(entries), per_page)
    main = FeedDoc(entries[:per_page], None, archives)
    offset, limit = archive_range(archives, len(entries), per_page)
    archive = FeedDoc(entries[offset : offset + limit], archives, archives)
    figures = []
    for fmt, render in (("atom", render_atom), ("rss", render_rss), ("json", render_json)):
        seconds = best_of(lambda render=render: render(main, feed), repeat=5 if quick else 20)
        size = len(render(main, feed))
        figures.append(
            Figure(
                name=f"render {fmt}, {per_page} newest of {total:,}",
                value=seconds * 1000,
                unit="ms",
                goal=f"< {GOAL_MS:.0f} ms",
                ok=seconds * 1000 < GOAL_MS,
                detail=f"{size:,} bytes",
            )
        )
    seconds = best_of(lambda: render_atom(archive, feed), repeat=5 if quick else 20)
    figures.append(
        Figure(
            name=f"render atom archive {archives} ({limit} entries)",
            value=seconds * 1000,
            unit="ms",
        )
    )
    return figures
