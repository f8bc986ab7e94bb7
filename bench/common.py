"""What every benchmark returns, and small timing helpers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from feedbot.ingest.scan import Indexer
    from feedbot.store import Store

__all__ = [
    "ROOT",
    "TOKEN",
    "Figure",
    "best_of",
    "cold_ingest",
    "serving_url",
    "start_daemon",
    "stop_process",
    "subscribe_chats",
    "wait_for",
]

ROOT = Path(__file__).resolve().parent.parent
#: The bot token of every benchmark's emulated bot (split so no scanner takes it for a real one).
TOKEN = "123456789:" + "AAH" + "benchTokenNotARealOne_abcdefghij"
T = TypeVar("T")


@dataclass(frozen=True)
class Figure:
    """One measured figure. ``ok`` is None where the figure has no goal."""

    name: str
    value: float
    unit: str
    goal: str = ""
    ok: bool | None = None
    detail: str = ""


def best_of(fn: Callable[[], object], *, repeat: int = 5) -> float:
    """Best wall-clock seconds of ``repeat`` calls of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def stop_process(proc: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM a daemon the benchmark started; SIGKILL it if it outlives ``grace``."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_daemon(tmp: Path, env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m feedbot run`` from this checkout in ``tmp``, ``env`` over the
    environment, stderr to ``log``."""
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "feedbot", "run"],
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": str(ROOT), **env},
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def wait_for(
    proc: subprocess.Popen[bytes],
    check: Callable[[], T | None],
    what: str,
    log: Path,
    *,
    timeout: float = 600.0,
    interval: float = 0.1,
) -> T:
    """Poll ``check`` until it returns a truthy value. If the daemon exits or ``timeout``
    passes first: stop it and raise with the tail of its log."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the daemon: no {what}: {tail}")
        time.sleep(interval)


def subscribe_chats(database: Path, chats: Iterable[int]) -> None:
    """Subscribe private ``chats`` in the SQLite ``database`` of a running daemon, as
    ``/start`` would (a chat row and its subscription), from this process."""
    from feedbot.store import Store

    store = Store.open(database)
    try:
        for chat in chats:
            store.chats.subscribe(str(chat), kind="private", title=None)
    finally:
        store.close()


def serving_url(log: Path) -> str | None:
    """The base URL of the daemon's start-up line in ``log`` (at INFO), once written."""
    m = re.search(r"serving (http://\S+/) ", log.read_text(errors="replace"))
    return m.group(1) if m else None


class _NoWords:
    """Stands for `feedbot.ingest.bulk.WordsProcess` in a scan without search words."""

    def __init__(self, dialect: str) -> None:
        pass

    def __enter__(self) -> _NoWords:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def add(self, record: object) -> None:
        pass

    def attach(self, records: list[Any]) -> list[Any]:
        return records


def cold_ingest(store: Store, index: Path, n: int, *, search: bool = True) -> tuple[float, Indexer]:
    """Seconds for the first scan of the ``n`` articles in ``index`` into ``store`` plus
    rendering the main feed, and the indexer (for re-scans). Without ``search`` the scan
    writes no search index and makes no search words (a baseline for its cost); it is
    otherwise the same scan, a bulk scan's overlapped writes included."""
    from feedbot.config import Settings
    from feedbot.ingest import scan as scan_module
    from feedbot.publish.site import Site
    from feedbot.store import StoreSource
    from feedbot.store import articles as articles_module

    real_index, real_words = articles_module.index_search, scan_module.WordsProcess
    indexer = scan_module.Indexer(index, store.articles, max_bytes=1 << 20, settle_ms=0)
    if not search:
        articles_module.index_search = lambda conn, found, rows=None, later=None: None
        scan_module.WordsProcess = _NoWords  # type: ignore[assignment,misc]
    site = Site(StoreSource(store.articles), Settings().feed)
    start = time.perf_counter()
    try:
        report = indexer.scan()
    finally:
        articles_module.index_search, scan_module.WordsProcess = real_index, real_words
    site.get("feed.atom")
    seconds = time.perf_counter() - start
    assert len(report.new) == n, report
    return seconds, indexer
