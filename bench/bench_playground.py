"""The playground's cost: cold ingest and peak memory of ``feedbot run``, with it on and off.

Each run starts ``feedbot run`` (no token, on 127.0.0.1) on an empty SQLite database over
the same folder of generated articles, once with ``playground.enabled`` true and once
false, alternating; the runs are repeated and the medians reported (other work on the
machine moves single runs a lot).

(a) Cold ingest with the playground on, as a share of the rate with it off (goal >= 0.9):
the rate is articles / seconds from the first ``/healthz`` answer (the web server is up,
the components are starting) until ``/healthz`` counts every article stored (the first
scan is done: the feed serves them). The detail also gives the seconds until the daemon
leads with every component ready — its "feedbot leading" line, written after the
components (the playground's bot too) took the first scan in. (b), (c) Peak RSS
(VmHWM) of the daemon once it leads, playground on and off (goal <= 100 MB each).

``python -m bench playground`` runs it; ``FEEDBOT_BENCH_RUNS`` sets the runs per mode
(default 5; 1 with ``--quick``).
"""

from __future__ import annotations

import os
import re
import socket
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Figure, start_daemon, stop_process
from feedbot.articles.corpus import write_corpus

LEADING = re.compile(r"feedbot leading: .* serving (http://\S+/) ")


@dataclass(frozen=True)
class Run:
    """One cold start: seconds from the first answer to leading, and the peak RSS."""

    playground: bool
    ingest: float  # seconds, first /healthz answer -> every article stored
    ready: float  # seconds, first /healthz answer -> leading, every component ready
    wall: float  # seconds, process start -> leading
    peak_mb: float


def _peak_mb(pid: int) -> float:
    m = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(m.group(1)) / 1024 if m else float("nan")


def _fail(proc: subprocess.Popen[bytes], log: Path, what: str) -> RuntimeError:
    stop_process(proc)
    return RuntimeError(f"the daemon: no {what}: {log.read_text(errors='replace')[-2000:]}")


def cold_start(tmp: Path, index: Path, n: int, *, playground: bool, port: int) -> Run:
    """Start ``feedbot run`` on an empty database over ``index`` and time its first scan."""
    var = Path(tempfile.mkdtemp(prefix="run-", dir=tmp))
    log = var / "daemon.log"
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__PATH": str(var / "feedbot.sqlite3"),
        "FEEDBOT_HTTP__PORT": str(port),
        "FEEDBOT_LOG__LEVEL": "INFO",  # the "feedbot leading" line
        "FEEDBOT_PLAYGROUND__ENABLED": "true" if playground else "false",
    }
    started = time.perf_counter()
    proc = start_daemon(var, env, log)
    url = f"http://127.0.0.1:{port}/healthz"
    up: float | None = None
    try:
        with httpx.Client(timeout=10) as client:
            while up is None:  # the server answers before the components start
                if proc.poll() is not None or time.perf_counter() - started > 120:
                    raise _fail(proc, log, "answer")
                try:
                    client.get(url)
                    up = time.perf_counter()
                except httpx.HTTPError:
                    time.sleep(0.005)
            while client.get(url).json().get("articles") != n:
                if proc.poll() is not None or time.perf_counter() - started > 600:
                    raise _fail(proc, log, f"{n} articles")
                time.sleep(0.005)
            stored = time.perf_counter()
            while not LEADING.search(log.read_text(errors="replace")):
                if proc.poll() is not None or time.perf_counter() - started > 600:
                    raise _fail(proc, log, "leading line")
                time.sleep(0.005)
            done = time.perf_counter()
            health = client.get(url).json()
            if playground and not health.get("playground", {}).get("running"):
                raise _fail(proc, log, f"running playground ({health.get('playground')})")
        time.sleep(0.5)  # what the components do right after: in the peak too
        peak = _peak_mb(proc.pid)
    finally:
        stop_process(proc)
    return Run(playground, stored - up, done - up, done - started, peak)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def measure(n: int, runs: int) -> list[Run]:
    """``runs`` cold starts with the playground on and as many off, alternating."""
    found: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="feedbot-bench-playground-") as name:
        tmp = Path(name)
        index = tmp / "index"
        write_corpus(index, n, seed=0)
        for i in range(runs):
            for on in (i % 2 == 0, i % 2 != 0):  # on first, then off first: no order bias
                found.append(cold_start(tmp, index, n, playground=on, port=_free_port()))
    return found


def figures(n: int, found: list[Run]) -> list[Figure]:
    on = [r for r in found if r.playground]
    off = [r for r in found if not r.playground]
    rate_on = statistics.median(n / r.ingest for r in on)
    rate_off = statistics.median(n / r.ingest for r in off)
    share = rate_on / rate_off

    def rates(runs: list[Run]) -> str:
        return ", ".join(f"{n / r.ingest:,.0f}" for r in runs)

    result = [
        Figure(
            name="(a) cold ingest, playground on / off",
            value=share,
            unit="x",
            goal=">= 0.9",
            ok=share >= 0.9,
            detail=f"{n} articles, median of {len(on)} runs each: on {rate_on:,.0f}/s "
            f"({rates(on)}), off {rate_off:,.0f}/s ({rates(off)}); first /healthz answer to "
            f"all stored. Until 'feedbot leading' (every component ready), median: on "
            f"{statistics.median(r.ready for r in on):.2f} s, off "
            f"{statistics.median(r.ready for r in off):.2f} s; from the process start: on "
            f"{statistics.median(r.wall for r in on):.2f} s, off "
            f"{statistics.median(r.wall for r in off):.2f} s",
        )
    ]
    for label, runs in (("(b) peak RSS, playground on", on), ("(c) peak RSS, playground off", off)):
        peak = statistics.median(r.peak_mb for r in runs)
        result.append(
            Figure(
                name=label,
                value=peak,
                unit="MB",
                goal="<= 100",
                ok=peak <= 100,
                detail=f"VmHWM of feedbot run once it leads over {n} articles, median of "
                f"{len(runs)} runs ({', '.join(f'{r.peak_mb:.1f}' for r in runs)})",
            )
        )
    return result


def run(quick: bool) -> list[Figure]:
    n = 500 if quick else 10_000
    runs = int(os.environ.get("FEEDBOT_BENCH_RUNS", "1" if quick else "5"))
    return figures(n, measure(n, runs))
