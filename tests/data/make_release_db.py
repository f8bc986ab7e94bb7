"""Write tests/data/release-13c6562.sqlite3 with the store of commit 13c6562 (the
release before the store split): ``python -m tests.data.make_release_db``.

The file is committed; test_store_release.py opens it with today's code. Re-run this
only to rebuild the fixture from that commit (it needs the git history)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feedbot.articles.corpus import generate
from feedbot.articles.parse import parse

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "13c6562"
SEED = ROOT / "seeds" / "000_52a7b11c330feae9.txt"
OUT = ROOT / "tests" / "data" / f"release-{RELEASE}.sqlite3"
NOW = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


def old_store() -> object:
    source = subprocess.run(
        ["git", "show", f"{RELEASE}:feedbot/store.py"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tempfile.NamedTemporaryFile("wb", suffix=".py", delete=False) as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("feedbot_store_release", f.name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    store_module = old_store()
    OUT.unlink(missing_ok=True)
    store = store_module.Store.open(OUT)  # type: ignore[attr-defined]
    for chat, kind in (("101", "private"), ("-202", "group"), ("303", "private")):
        store.subscribe(chat, kind=kind, title=f"chat {chat}", now=NOW)
    store.set_chat_language("303", "it")
    store.unsubscribe("101", now=NOW + timedelta(hours=1))
    store.subscribe("101", kind="private", title=None, now=NOW + timedelta(hours=2))
    files = [*generate(6, seed=5), (SEED.name, SEED.read_bytes())]
    for i, (name, data) in enumerate(files):
        article = parse(name, data)
        mtime_ns = 1_761_990_000_123_456_789 + i  # a real nanosecond mtime: beyond 32 bits
        store.add_article(article, path=name, size=len(data), mtime_ns=mtime_ns,
                          content_hash=f"{i:064x}", now=NOW + timedelta(minutes=i),
                          broadcast=i > 0, channels=("@news",))  # fmt: skip
    store.remove_article(parse(*files[1]).id, NOW + timedelta(days=1))
    claimed = store.claim_due(NOW + timedelta(days=2), 8)
    store.mark_sent_many([(d.id, [900 + d.id, 901 + d.id], NOW) for d in claimed[:4]])
    store.mark_retry(claimed[4].id, 2, NOW + timedelta(days=3), "timed out")
    store.mark_failed(claimed[5].id, 4, "Forbidden: bot was blocked by the user")
    store.record_progress(claimed[6].id, [77])  # claimed[6:] stay ``sending``: a crash
    store.set_state("telegram.offset", "424242")
    store.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
