"""Last-Modified is when the bytes changed, never a date in the future.

A real `feedbot run` serves an article dated (day precision) half a year ahead; every
later change of a document's bytes answers 200 to the If-Modified-Since and the
ETag a reader got before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import SEED
from tests.daemonkit import Daemon, atomic_write, fast_env
from tests.waiting import until

pytestmark = pytest.mark.slow

PATHS = ("feed.atom", "")  # a feed and the first index page


def checked(d: Daemon, path: str) -> httpx.Response:
    """GET ``path``; its Last-Modified, when sent, is not after the response's Date."""
    r = d.get(path)
    assert r.status_code == 200, r.text
    if "last-modified" in r.headers:
        date = parsedate_to_datetime(r.headers["date"])
        assert parsedate_to_datetime(r.headers["last-modified"]) <= date, r.headers
    return r


def answers_200_to(d: Daemon, path: str, before: httpx.Response) -> None:
    """What a reader holding ``before`` is answered: 200, by date and by ETag alike."""
    for name, value in (
        ("if-modified-since", before.headers["last-modified"]),
        ("if-none-match", before.headers["etag"]),
    ):
        r = httpx.get(d.url + path, headers={name: value}, timeout=5)
        assert r.status_code == 200, (path, name, value, r.headers)


def test_a_future_day_date_never_pins_last_modified(
    tmp_path: Path, start: Callable[..., Daemon]
) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (index / "001_seed.txt").write_bytes(SEED.read_bytes())
    ahead = (datetime.now(UTC) + timedelta(days=180)).date().isoformat()
    atomic_write(
        index, "002_ahead.txt", f"date {ahead} Dated half a year ahead\n\nIt is out now.\n"
    )
    d = start(fast_env(tmp_path, index))
    d.wait_started(timeout=30)
    until(lambda: b"half a year ahead" in d.get("feed.atom").content, what="the article")
    first = {path: checked(d, path) for path in PATHS}
    for path, r in first.items():
        # Published now (a day date is not a schedule), but not modified in the future.
        assert r.headers["last-modified"], path
        ims = httpx.get(d.url + path, headers={"if-modified-since": r.headers["last-modified"]})
        assert ims.status_code == 304, path

    today = datetime.now(UTC).date().isoformat()
    atomic_write(index, "003_new.txt", f"date {today} A new article\n\nAdded later.\n")
    until(lambda: b"A new article" in d.get("feed.atom").content, what="the new article")
    second = {path: checked(d, path) for path in PATHS}
    for path in PATHS:
        assert b"A new article" in second[path].content
        answers_200_to(d, path, first[path])

    # An article dated in the past changes the bytes without moving any date.
    until(lambda: all("last-modified" in checked(d, p).headers for p in PATHS), what="LM sent")
    second = {path: checked(d, path) for path in PATHS}
    old_text = "date 2020-01-01 An old article found late\n\nFiled late.\n"
    atomic_write(index, "000_old.txt", old_text)
    until(lambda: b"found late" in d.get("feed.atom").content, what="the old-dated article")
    for path in PATHS:
        assert b"found late" in checked(d, path).content
        answers_200_to(d, path, second[path])
    assert d.stop()[0] == 0
