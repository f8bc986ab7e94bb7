"""Requests/s of ``GET /search?q=…`` and ``GET /search.atom?q=…`` beside ``GET /feed.atom``,
on one running ``feedbot run`` (SQLite, 10,000 generated articles; 1,000 with --quick).

wrk (one thread, 32 connections, ``--latency`` for p50/p99) drives each path for the
same bounded time. The searches are 1–3 words that occur together in one article of the
corpus (fixed seed; so each finds something), rotated by a small wrk Lua script, in two
sets: ``cached`` rotates 16 queries, whose answers the server keeps after the first
request (`feedbot.publish.results.Searches` caches 128 per article version), and
``uncached`` rotates 2,000 queries in order, so with that least-recently-used cache every
request is a miss and runs the search, the snippets and the page. Each is reported as
req/s and as a ratio to ``/feed.atom`` (itself answered from the rendered site's cache).
Without wrk (Debian's ``wrk``) it says so and skips.
"""

from __future__ import annotations

import itertools
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote_plus

import httpx

from bench.bench_http import CONNECTIONS, WrkResult, wrk
from bench.common import Figure, serving_url, start_daemon, stop_process, wait_for
from feedbot.articles.corpus import generate, write_corpus
from feedbot.search.words import ignored, tokens

CACHED, UNCACHED = 16, 2_000


def queries(count: int, seed: int) -> list[str]:
    """``count`` distinct queries of 1–3 words that occur together in one article of the
    generated corpus (its first 300 articles, in every corpus of at least that size), so
    each finds at least that article, as a reader's query usually does."""
    rng = random.Random(seed)
    articles = []
    for _, data in generate(300, seed=0):
        found = {w for w in tokens(data.decode()) if len(w) > 3 and not w.isdigit()}
        articles.append(sorted(found - ignored("it") - ignored("en")))
    asked: dict[str, None] = {}
    while len(asked) < count:
        words = rng.choice(articles)
        asked[" ".join(rng.sample(words, min(len(words), rng.randint(1, 3))))] = None
    return list(asked)


def rotation(tmp: Path, name: str, paths: list[str]) -> Path:
    """A wrk Lua script that requests ``paths`` in turn, round and round."""
    script = tmp / f"{name}.lua"
    listed = ",\n".join(f'  "{p}"' for p in paths)
    script.write_text(
        f"local paths = {{\n{listed}\n}}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        '  return wrk.format("GET", paths[i])\nend\n'
    )
    return script


def settle(base: str, timeout: float = 60.0) -> None:
    """Wait until a search no one asked before is answered fast again: the searches wrk
    left in flight on the database threads must not queue in front of the next run."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=timeout) as client:
        for probe in itertools.count():
            start = time.perf_counter()
            client.get(f"{base}/search", params={"q": f"settle{probe}"})
            if time.perf_counter() - start < 0.1 or time.monotonic() > deadline:
                return
            time.sleep(0.2)


def _start(tmp: Path, n: int) -> tuple[subprocess.Popen[bytes], str, Path]:
    index = tmp / "index"
    write_corpus(index, n, seed=0)
    log = tmp / "daemon.log"
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__PATH": str(tmp / "search.sqlite3"),
        "FEEDBOT_HTTP__PORT": "0",
        "FEEDBOT_PLAYGROUND__ENABLED": "false",
        "FEEDBOT_LOG__LEVEL": "INFO",  # the start-up line names the port
    }
    proc = start_daemon(tmp, env, log)
    url = wait_for(proc, lambda: serving_url(log), "start-up line", log)
    with httpx.Client(timeout=10) as client:
        ingested = lambda: client.get(url + "healthz").json()["articles"] == n  # noqa: E731
        wait_for(proc, ingested, "ingest", log, timeout=900, interval=0.5)
    return proc, url, log


def run(quick: bool) -> list[Figure]:
    """Start the daemon, drive each path with wrk, report the rates and their ratios."""
    if not shutil.which("wrk"):
        return [
            Figure(
                "GET /search (skipped)",
                0.0,
                "",
                detail="not installed: wrk (apt-get install -y wrk); this benchmark installs "
                "nothing",
            )
        ]
    n = 1_000 if quick else 10_000
    seconds = 3 if quick else 10
    asked = queries(CACHED + UNCACHED, seed=11)
    sets = {"cached": asked[:CACHED], "uncached": asked[CACHED:]}
    results: dict[str, WrkResult] = {}
    found: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="feedbot-bench-search-http-") as name:
        tmp = Path(name)
        start = time.perf_counter()
        proc, url, _ = _start(tmp, n)
        ingest = time.perf_counter() - start
        base = url.rstrip("/")
        try:
            with httpx.Client(timeout=30) as client:
                for q in sets["cached"]:  # each answers 200; warms the cache
                    for path in ("search", "search.atom"):
                        resp = client.get(f"{base}/{path}?q={quote_plus(q)}")
                        assert resp.status_code == 200, (path, q, resp.status_code)
                    found[q] = len(re.findall(r"<entry[ >]", resp.text))
            wrk(f"{base}/feed.atom", 1)  # warm up
            results["feed.atom"] = wrk(f"{base}/feed.atom", seconds)
            for kind, qs in sets.items():  # the cached ones first: no misses still running
                for path in ("search", "search.atom"):
                    paths = [f"/{path}?q={quote_plus(q)}" for q in qs]
                    script = rotation(tmp, f"{path}-{kind}", paths)
                    results[f"{path} {kind}"] = wrk(base + "/", seconds, script=script)
                    settle(base)
        finally:
            stop_process(proc)
    feed = results["feed.atom"]
    load = f"wrk -t1 -c{CONNECTIONS} -d{seconds}s --latency, loopback"
    figures = [
        Figure(
            "GET /feed.atom (feedbot run, search beside)",
            feed.rate,
            "req/s",
            detail=f"p50 {feed.p50_ms:.1f} ms, p99 {feed.p99_ms:.1f} ms; feedbot run on SQLite, "
            f"{n:,} generated articles (ingested in {ingest:.0f} s), playground off; {load}"
            + (f"; {feed.note}" if feed.note else ""),
        )
    ]
    hits = sorted(found.values())
    for key, result in results.items():
        if key == "feed.atom":
            continue
        path, kind = key.split()
        rotated = len(sets[kind])
        figures.append(
            Figure(
                f"GET /{path}?q=… {kind} ({rotated:,} queries rotated)",
                result.rate,
                "req/s",
                detail=f"{result.rate / feed.rate:.3f}x /feed.atom; p50 {result.p50_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms"
                + (
                    f"; the {len(hits)} cached queries find {hits[0]}-{hits[-1]} articles "
                    f"(median {statistics.median(hits):g}, of at most 50)"
                    if kind == "cached"
                    else ""
                )
                + (f"; {result.note}" if result.note else ""),
            )
        )
    return figures
