"""Replicas on PostgreSQL: fail-over time, and fan-out from an elected leader.

(1) Fail-over: two ``feedbot run`` replicas (no bot) on a fresh database; kill -9
the leader and time until the other one's ``/healthz`` says ``leader`` (polled
every 20 ms); restart the killed one as a follower and repeat. Median of 5 kills
(goal <= 10 s; with the default 6 s lease and 2 s renewal it is bounded by ~8 s).

(2) Fan-out: two replicas with the bot on, 1,500 subscribed chats, one new article;
the rate is taken from the fake Bot API's arrival times (first to last message),
against its strict 30 messages/s sliding window (goal >= 95 % of the cap, zero
429s). The fake runs in a thread of this process; the replicas are processes.

(3) ``GET /feed.atom`` on a follower (two replicas, 2,000 articles, the follower
rendering from PostgreSQL) against nginx serving a static build of the same
articles, both driven by wrk side by side (goal >= 0.5x).

Uses the PostgreSQL the tests use (127.0.0.1:5432, or a throwaway server; see
tests/pgserver.py) with a fresh database per figure.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.common import Figure

ROOT = Path(__file__).resolve().parent.parent
CAP = 30.0


def _failover(tmp: Path, url: str, kills: int) -> list[float]:
    from tests.replicakit import Corpus, Replica, leaders, wait_until

    Corpus(tmp / "index").drop()
    replicas = [Replica(f"r{i}", tmp, url, None).start() for i in range(2)]
    times: list[float] = []
    try:
        for round_ in range(kills):
            found: list[Replica] = []

            def one(found: list[Replica] = found) -> bool:
                found[:] = leaders(replicas)
                return len(found) == 1

            wait_until(one, 60, "one leader", replicas)
            leader = found[0]
            others = [r for r in replicas if r is not leader]
            wait_until(
                lambda o=others: all(r.role() == "follower" for r in o),  # type: ignore[misc]
                60,
                "follower",
                others,
            )
            leader.kill()
            killed = time.monotonic()
            wait_until(
                lambda o=others: any(r.role() == "leader" for r in o),  # type: ignore[misc]
                60,
                "take-over",
                others,
                0.02,
            )
            times.append(time.monotonic() - killed)
            if round_ + 1 < kills:
                leader.start()  # back as a follower
            else:
                replicas.remove(leader)
    finally:
        for r in replicas:
            r.stop()
    return times


def _fanout(tmp: Path, url: str, chats: int) -> tuple[float, int, int]:
    from feedbot.fakegram import FakeBotAPI
    from feedbot.store import Store
    from tests.botkit import TOKEN
    from tests.replicakit import Corpus, Replica, leaders, wait_until

    corpus = Corpus(tmp / "index")
    corpus.drop()
    store = Store.open(tmp / "unused", url=url)
    try:
        for chat in range(10_000, 10_000 + chats):
            store.chats.subscribe(str(chat), kind="private", title=None)
    finally:
        store.close()
    fake = FakeBotAPI(TOKEN).start_in_thread()
    replicas = [Replica(f"r{i}", tmp, url, fake).start() for i in range(2)]
    try:
        wait_until(lambda: len(leaders(replicas)) == 1, 60, "a leader", replicas)
        [leader] = leaders(replicas)
        wait_until(
            lambda: leader.health().get("telegram", {}).get("running") is True,
            60,
            "the bot",
            replicas,
        )
        article = corpus.drop()

        def posts() -> list[float]:
            return [s.time for s in fake.sent if f"articles/{article}.html" in s.text]

        wait_until(lambda: len(posts()) >= chats, chats / CAP * 3 + 30, "every chat", replicas, 0.2)
        times = sorted(posts())
        rate = (len(times) - 1) / (times[-1] - times[0])
        return rate, fake.count_429, len(times)
    finally:
        for r in replicas:
            r.stop()
        fake.stop_thread()


def _follower_http(tmp: Path, url: str, total: int, seconds: int) -> Figure:
    import shutil
    import subprocess

    from bench import bench_http
    from feedbot.articles.corpus import write_corpus
    from tests.replicakit import Replica, wait_until

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not (shutil.which("wrk") and Path(nginx).exists()):
        return Figure("GET /feed.atom follower/nginx (skipped)", 0.0, "", detail="no wrk/nginx")
    write_corpus(tmp / "index", total, seed=0)
    replicas = [Replica(f"h{i}", tmp, url, None).start() for i in range(2)]
    www = tmp / "www"
    config = tmp / "build.toml"
    config.write_text(f'[index]\npath = "{tmp / "index"}"\n')
    subprocess.run(
        [sys.executable, "-m", "feedbot", "--config", str(config), "build", "--out", str(www)],
        check=True,
        capture_output=True,
    )
    tmp.chmod(0o755)
    port = bench_http.free_port()
    theirs = subprocess.Popen(
        [nginx, "-c", str(bench_http.nginx_conf(tmp, www, port)), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        """The leader scanned every article and the follower serves the same feed (a
        follower's /healthz counts no articles: it does not scan)."""
        roles = {r.role(): r for r in replicas}
        leader, follower = roles.get("leader"), roles.get("follower")
        if leader is None or follower is None:
            return False
        if (leader.health().get("articles") or 0) < total:
            return False
        status, body = follower.get("feed.atom")
        return status == 200 and (status, body) == leader.get("feed.atom")

    try:
        wait_until(ready, 600, "the follower serving every article", replicas)
        [follower] = [r for r in replicas if r.role() == "follower"]
        ours = f"http://127.0.0.1:{follower.port}/feed.atom"
        nginx_url = f"http://127.0.0.1:{port}/feed.atom"
        bench_http.wait_ready(nginx_url, theirs)
        bench_http.wrk_rate(ours, 1)
        bench_http.wrk_rate(nginx_url, 1)
        ours_rate, note = bench_http.wrk_rate(ours, seconds)
        nginx_rate, _ = bench_http.wrk_rate(nginx_url, seconds)
    finally:
        bench_http.stop_server(theirs)
        for r in replicas:
            r.stop()
    ratio = ours_rate / nginx_rate if nginx_rate else 0.0
    return Figure(
        "GET /feed.atom on a follower vs nginx",
        ratio,
        "x",
        ">= 0.5x",
        ratio >= 0.5,
        f"follower {ours_rate:,.0f} req/s, nginx {nginx_rate:,.0f} req/s (worker_processes 1, "
        f"static build of the same {total:,} articles); wrk -c{bench_http.CONNECTIONS} "
        f"-d{seconds}s" + (f"; {note}" if note else ""),
    )


def run(quick: bool) -> list[Figure]:
    sys.path.insert(0, str(ROOT))
    from tests.pgserver import fresh_database, shared_server

    kills, chats = (2, 300) if quick else (5, 1500)
    with shared_server() as server, tempfile.TemporaryDirectory(prefix="feedbot-bench-rep-") as d:
        with fresh_database(server, "feedbot_bench") as url:
            (Path(d) / "failover").mkdir()
            times = _failover(Path(d) / "failover", url, kills)
        with fresh_database(server, "feedbot_bench") as url:
            (Path(d) / "fanout").mkdir()
            rate, n429, sent = _fanout(Path(d) / "fanout", url, chats)
        with fresh_database(server, "feedbot_bench") as url:
            (Path(d) / "http").mkdir()
            http = _follower_http(Path(d) / "http", url, 300 if quick else 2_000, 2 if quick else 5)
    median = statistics.median(times)
    return [
        Figure(
            f"fail-over after kill -9 of the leader (median of {len(times)})",
            median,
            "s",
            "<= 10 s",
            median <= 10.0,
            "each: " + ", ".join(f"{t:.2f}" for t in times) + " s (lease 6 s, renewal 2 s)",
        ),
        Figure(
            f"fan-out of {chats:,} chats from the leader on PostgreSQL",
            rate,
            "msg/s",
            ">= 28.5 (95%)",
            rate >= 0.95 * CAP and n429 == 0,
            f"{sent:,} messages, {n429} answered 429, 2 replicas",
        ),
        http,
    ]
