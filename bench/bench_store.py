"""The store on each engine: cold ingest of 10,000 articles into an empty SQLite file
and into an empty PostgreSQL database, side by side in one run (read + parse +
summarise + store + render the main feed; articles/s, goal >= 1,000 on each), and
`feedbot copy-db` of the result from SQLite into PostgreSQL (rows/s).

PostgreSQL: the server at 127.0.0.1:5432, else a throwaway one (tests/pgserver.py);
a fresh database, dropped afterwards.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.common import Figure, cold_ingest
from feedbot.articles.corpus import write_corpus
from feedbot.store import Store
from feedbot.store.copy import copy_database
from tests.pgserver import fresh_database, shared_server


def _ingest(store: Store, index: Path, n: int) -> float:
    """Seconds for the first scan of ``index`` plus rendering the main feed."""
    return cold_ingest(store, index, n)[0]


def run(quick: bool = False) -> list[Figure]:
    n = 1_000 if quick else 10_000
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp_name, shared_server() as server:
        tmp = Path(tmp_name)
        index = tmp / "index"
        write_corpus(index, n)
        lite = Store.open(tmp / "bench.sqlite3")
        with fresh_database(server, "feedbot_bench") as url:
            pg = Store.open(tmp / "unused", url=url)
            try:
                times = {"SQLite": _ingest(lite, index, n), "PostgreSQL": _ingest(pg, index, n)}
                for engine, seconds in times.items():
                    rate = n / seconds
                    figures.append(
                        Figure(
                            name=f"cold ingest of {n:,} articles on {engine}",
                            value=rate,
                            unit="articles/s",
                            goal=">= 1,000",
                            ok=rate >= 1000,
                            detail=f"{seconds:.2f} s, one scan thread (search words in a "
                            f"second process, writes overlapped on PostgreSQL); PostgreSQL at "
                            f"{server.host}:{server.port}",
                        )
                    )
                with fresh_database(server, "feedbot_bench") as target_url:
                    target = Store.open(tmp / "unused", url=target_url)
                    try:
                        start = time.perf_counter()
                        report = copy_database(lite.db, target.db)
                        seconds = time.perf_counter() - start
                    finally:
                        target.close()
                rows = sum(report.rows.values())
                figures.append(
                    Figure(
                        name="copy-db SQLite -> PostgreSQL",
                        value=rows / seconds,
                        unit="rows/s",
                        detail=f"{rows:,} rows in {seconds:.2f} s",
                    )
                )
            finally:
                pg.close()
                lite.close()
    return figures
