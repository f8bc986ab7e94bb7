"""Headlines as a feed reader that ignores ``type="html"`` shows them: Node's rss-parser
(what Node.js Telegram feed bots read feeds with) and feedparser, side by side.

A plain headline must come out exactly as written ("Tom & Jerry", never "Tom &amp;amp;
Jerry"); one that looks like markup must come out inert (no tag a reader could run).
rss-parser is installed by `make deps` from tests/node/package-lock.json; without
Node.js the test fails rather than skips.
"""

from __future__ import annotations

import html
import json
import shutil
import subprocess
from pathlib import Path

import feedparser

from feedbot.articles.model import Entry
from feedbot.publish.feeds import FeedDoc, render_atom, render_rss
from tests.publish.test_feeds import FEED, make_article

NODE = Path(__file__).parents[1] / "node"
PLAIN = ["Tom & Jerry", "Prezzi +5% < 2025", "AT&T e l'“Ue”", "1 < 2 > 0", "Bread & butter; jam"]
MARKUP = ["<script>alert(1)</script> & more", "Caf&eacute; &amp; bar", "A </b> tag"]


def titles_by_rss_parser(*files: Path) -> dict[str, list[str]]:
    node = shutil.which("node")
    assert node, "Node.js is needed (apt-get install nodejs)"
    assert (NODE / "node_modules" / "rss-parser").is_dir(), "run `make deps` (npm ci)"
    done = subprocess.run(
        [node, str(NODE / "titles.js"), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_plain_headlines_reach_naive_readers_as_written(tmp_path: Path) -> None:
    headlines = PLAIN + MARKUP
    entries = [Entry.of(make_article(i, headline=h)) for i, h in enumerate(headlines, 1)]
    doc = FeedDoc(entries[::-1], None, 0)
    atom, rss = tmp_path / "feed.atom", tmp_path / "feed.rss"
    atom.write_bytes(render_atom(doc, FEED))
    rss.write_bytes(render_rss(doc, FEED))
    naive = titles_by_rss_parser(atom, rss)
    for path in (atom, rss):
        shown = dict(zip(headlines, naive[str(path)][::-1], strict=True))
        honest = dict(
            zip(
                headlines,
                [e.title for e in feedparser.parse(path.read_bytes()).entries][::-1],
                strict=True,
            )
        )
        for headline in PLAIN:
            assert shown[headline] == headline, (path.name, shown[headline])
            assert honest[headline] == headline, (path.name, honest[headline])
    atom_shown = dict(zip(headlines, naive[str(atom)][::-1], strict=True))
    atom_honest = dict(
        zip(
            headlines,
            [e.title for e in feedparser.parse(atom.read_bytes()).entries][::-1],
            strict=True,
        )
    )
    for headline in MARKUP:  # type="html", escaped once more: inert even read naively
        assert atom_shown[headline] == html.escape(headline, quote=False)
        assert html.unescape(atom_honest[headline]) == headline
