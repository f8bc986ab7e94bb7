"""Replicas on one PostgreSQL database: fail-over, fencing, following, rate limits.

Real ``feedbot run`` subprocesses (tests/replicakit.py) share a fresh database, one
index folder and the fake Bot API (in a thread); each replica reaches the fake
through its own base URL, so the fake records which replica sent each message and
when. Faults are real: kill -9, SIGSTOP/SIGCONT, a PostgreSQL server restarted.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from feedbot.fakegram import FakeBotAPI
from feedbot.store import Store
from tests.botkit import TOKEN
from tests.pgserver import ThrowawayServer, create_database, free_port
from tests.replicakit import Corpus, Replica, leaders, log_tails, max_per_second
from tests.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

FAILOVER = 10.0  # seconds the tests allow a new leader after the old one died (README: about 8)
IN_FLIGHT = 64  # the sender's most sends under way at once: the duplicates a crash may cost


@pytest.fixture
def url(new_pg_database: Callable[[], str]) -> str:
    return new_pg_database()


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    server = FakeBotAPI(TOKEN).start_in_thread()
    yield server
    server.stop_thread()


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    problems = []
    for r in started:
        try:
            r.stop()
        except AssertionError as e:
            problems.append(str(e))
    for r in started:
        assert TOKEN.split(":")[1] not in r.stderr()
    assert not problems, "\n".join(problems)


def subscribe(url: str, chats: range) -> None:
    store = Store.open(Path("unused"), url=url)
    try:
        for chat in chats:
            store.chats.subscribe(str(chat), kind="private", title=None)
    finally:
        store.close()


def owed(store: Store) -> int:
    stats = store.chats.stats()
    return stats["deliveries_pending"] + stats["deliveries_sending"]


def settled(url: str, replicas: list[Replica], timeout: float = 30.0) -> None:
    """Wait until the ledger owes nothing (so any later message would be a duplicate)."""
    store = Store.open(Path("unused"), url=url)
    try:
        until(
            lambda: owed(store) == 0,
            timeout=timeout,
            what="nothing owed",
            context=log_tails(replicas),
        )
    finally:
        store.close()


def in_feed(replica: Replica, article_id: str) -> bool:
    status, body = replica.get("feed.atom")
    return status == 200 and article_id.encode() in body


def the_leader(replicas: list[Replica], timeout: float = 30.0) -> Replica:
    """Wait for exactly one replica to say it leads (and its bot to poll) and return it."""
    found: list[Replica] = []

    def one() -> bool:
        found[:] = leaders(replicas)
        return len(found) == 1

    until(one, timeout=timeout, what="one leader", context=log_tails(replicas))
    leader = found[0]
    if leader.fake is not None:
        until(
            lambda: leader.health().get("telegram", {}).get("running") is True,
            timeout=timeout,
            what=f"{leader.name}'s bot up",
            context=log_tails(replicas),
        )
    return leader


def test_a_new_file_reaches_every_replica_within_2_s(
    tmp_path: Path, url: str, replicas: list[Replica]
) -> None:
    corpus = Corpus(tmp_path / "index")
    corpus.drop()
    replicas += [Replica(f"r{i}", tmp_path, url, None).start() for i in range(2)]
    the_leader(replicas)
    until(
        lambda: all(r.health().get("status") == "ok" for r in replicas),
        timeout=30,
        what="ok",
        context=log_tails(replicas),
    )
    for _ in range(3):
        article = corpus.drop()
        start = time.monotonic()
        until(
            lambda a=article: all(in_feed(r, a) for r in replicas),  # type: ignore[misc]
            timeout=10,
            what="the article",
            context=log_tails(replicas),
        )
        took = time.monotonic() - start
        assert took <= 2.0, f"{article} reached every replica after {took:.2f} s"


def broadcast(
    tmp_path: Path, url: str, fake: FakeBotAPI, replicas: list[Replica], chats: range, n: int
) -> tuple[Corpus, Replica]:
    """``n`` replicas with the bot on; a baseline article; ``chats`` subscribed."""
    corpus = Corpus(tmp_path / "index")
    corpus.drop()  # the baseline: never broadcast
    subscribe(url, chats)
    replicas += [Replica(f"r{i}", tmp_path, url, fake).start() for i in range(n)]
    return corpus, the_leader(replicas)


def posts(fake: FakeBotAPI, article: str) -> list:  # type: ignore[type-arg]
    return [s for s in fake.sent if f"articles/{article}.html" in s.text]


def check_rate(fake: FakeBotAPI) -> None:
    """(c) the deployment never went over Telegram's 30 messages/s, and met no 429."""
    sends = [s for s in fake.attempts if s.method == "sendmessage"]
    refused = [
        (round(s.time, 3), s.replica, s.chat_id, s.description) for s in sends if s.outcome == "429"
    ]
    assert not refused, refused
    assert max_per_second([s.time for s in sends]) <= 30


def test_kill_9_the_leader_in_a_broadcast(
    tmp_path: Path, url: str, fake: FakeBotAPI, replicas: list[Replica]
) -> None:
    chats = range(3000, 3300)
    corpus, leader = broadcast(tmp_path, url, fake, replicas, chats, 3)
    article = corpus.drop()
    until(
        lambda: len(posts(fake, article)) >= 100,
        timeout=30,
        what="100 posts",
        context=log_tails(replicas),
    )
    leader.kill()
    killed = time.monotonic()
    at_kill = len(posts(fake, article))
    assert at_kill < len(chats), "the broadcast ended before the kill: nothing tested"
    survivors = [r for r in replicas if r is not leader]
    new = the_leader(survivors, timeout=FAILOVER + 5)
    assert time.monotonic() - killed <= FAILOVER + 1  # polled every 50 ms + /healthz round trips
    until(
        lambda: {s.chat_id for s in posts(fake, article)} >= set(chats),
        timeout=60,
        what="every chat",
        context=log_tails(replicas),
    )
    settled(url, replicas)
    copies = Counter(s.chat_id for s in posts(fake, article))
    assert sorted(copies) == list(chats)
    assert sum(n - 1 for n in copies.values()) <= IN_FLIGHT
    assert {s.replica for s in posts(fake, article)} == {leader.name, new.name}
    assert all(s.replica == new.name for s in posts(fake, article) if s.time > killed)
    check_rate(fake)


def test_sigstop_the_leader_then_sigcont(
    tmp_path: Path, url: str, fake: FakeBotAPI, replicas: list[Replica]
) -> None:
    chats = range(5000, 5300)
    corpus, leader = broadcast(tmp_path, url, fake, replicas, chats, 2)
    [other] = [r for r in replicas if r is not leader]
    article = corpus.drop()
    until(
        lambda: len(posts(fake, article)) >= 60,
        timeout=30,
        what="60 posts",
        context=log_tails(replicas),
    )
    leader.signal(signal.SIGSTOP)
    stopped = time.monotonic()
    try:
        took = until(
            lambda: other.role() == "leader",
            timeout=FAILOVER + 5,
            what="take-over",
            context=log_tails(replicas),
        )
        assert took <= FAILOVER
        until(
            lambda: time.monotonic() - stopped >= 20,
            timeout=25,
            what="20 s",
            context=log_tails(replicas),
            interval=0.5,
        )
    finally:
        leader.signal(signal.SIGCONT)
    resumed = time.monotonic()
    until(
        lambda: leader.role() == "follower",
        timeout=15,
        what="the old leader follows",
        context=log_tails(replicas),
    )
    until(
        lambda: {s.chat_id for s in posts(fake, article)} >= set(chats),
        timeout=60,
        what="every chat",
        context=log_tails(replicas),
    )
    settled(url, replicas)
    # a second post after the pause: only the new leader sends it
    late = corpus.drop()
    until(
        lambda: {s.chat_id for s in posts(fake, late)} >= set(chats),
        timeout=60,
        what="the 2nd post",
        context=log_tails(replicas),
    )
    settled(url, replicas)
    after = [s for s in fake.attempts if s.replica == leader.name and s.time > resumed]
    assert not [s for s in after if s.method == "sendmessage"], "the old leader sent after SIGCONT"
    assert {s.replica for s in posts(fake, late)} == {other.name}
    copies = Counter(s.chat_id for s in posts(fake, article))
    assert sorted(copies) == list(chats)
    assert sum(n - 1 for n in copies.values()) <= IN_FLIGHT
    assert other.role() == "leader" and leader.role() == "follower"
    assert leader.health()["leader"] == other.name
    # the new leader stops cleanly: it hands the lease over and the first one leads again
    other.stop()
    until(
        lambda: leader.role() == "leader",
        timeout=10,
        what="the lease handed back",
        context=log_tails(replicas),
    )
    third = corpus.drop()
    until(
        lambda: {s.chat_id for s in posts(fake, third)} >= set(chats),
        timeout=60,
        what="the 3rd post",
        context=log_tails(replicas),
    )
    settled(url, replicas)
    assert Counter(s.replica for s in posts(fake, third)) == {leader.name: len(chats)}
    check_rate(fake)


def test_postgresql_restarts_under_two_replicas(
    tmp_path: Path, pg_throwaway: ThrowawayServer, fake: FakeBotAPI, replicas: list[Replica]
) -> None:
    url = create_database(pg_throwaway.server, "feedbot_restart")
    chats = range(7000, 7050)
    corpus, _ = broadcast(tmp_path, url, fake, replicas, chats, 2)

    def everywhere(article: str) -> None:
        until(
            lambda: all(in_feed(r, article) for r in replicas),
            timeout=30,
            what=article,
            context=log_tails(replicas),
        )
        until(
            lambda: {s.chat_id for s in posts(fake, article)} >= set(chats),
            timeout=60,
            what=article,
            context=log_tails(replicas),
        )

    before = corpus.drop()
    everywhere(before)
    pg_throwaway.stop("fast")
    try:
        until(
            lambda: all(r.get("healthz")[0] == 503 for r in replicas),
            timeout=20,
            what="503",
            context=log_tails(replicas),
        )
        during = corpus.drop()  # written while the database is away
        time.sleep(1.0)  # the leader tries (and fails) to store it meanwhile
    finally:
        pg_throwaway.start()
    until(
        lambda: all(r.health().get("status") == "ok" for r in replicas),
        timeout=30,
        what="ok",
        context=log_tails(replicas),
    )
    the_leader(replicas)
    everywhere(during)
    after = corpus.drop()
    everywhere(after)
    settled(url, replicas)
    for article in (before, during, after):
        copies = Counter(s.chat_id for s in posts(fake, article))
        assert sorted(copies) == list(chats), article
    assert all(r.alive for r in replicas)
    check_rate(fake)


def test_webhook_updates_on_a_follower_are_answered_by_the_leader(
    tmp_path: Path, url: str, fake: FakeBotAPI, replicas: list[Replica]
) -> None:
    Corpus(tmp_path / "index").drop()
    follower_port = free_port()
    hook = {
        "FEEDBOT_TELEGRAM__MODE": "webhook",
        "FEEDBOT_TELEGRAM__WEBHOOK_URL": f"http://127.0.0.1:{follower_port}/telegram/webhook",
        "FEEDBOT_TELEGRAM__WEBHOOK_SECRET": "replica-Secret_1",
    }
    replicas.append(Replica("r0", tmp_path, url, fake, **hook).start())
    leader = the_leader(replicas)
    follower = Replica("r1", tmp_path, url, fake, **hook)
    follower.port = follower_port  # the load balancer sends every update here
    replicas.append(follower.start())
    until(
        lambda: follower.role() == "follower",
        timeout=30,
        what="r1 follows",
        context=log_tails(replicas),
    )
    chats = range(9000, 9090)
    for chat in chats:
        fake.command("/start", chat_id=chat, language_code="en")
    until(
        lambda: all(fake.texts(c) for c in chats),
        timeout=30,
        what="every welcome",
        context=log_tails(replicas),
    )
    welcomes = [s for s in fake.sent if s.chat_id in chats]
    assert all(s.text.startswith("Welcome") for s in welcomes) and len(welcomes) == len(chats)
    assert {s.replica for s in welcomes} == {leader.name}  # one limiter for the deployment
    assert not [r for r in fake.requests if r.method == "getupdates"]
    assert fake.webhook["url"].startswith(f"http://127.0.0.1:{follower_port}/")
    check_rate(fake)


def polls(fake: FakeBotAPI, replica: Replica, since: float = 0.0) -> int:
    """getUpdates calls ``replica`` made after ``since`` (the emulator's call log)."""
    return len([c for c in fake.calls("getUpdates", replica=replica.name) if c.time > since])


def test_a_paused_leader_never_polls_again_and_a_command_in_the_hand_over_is_answered_once(
    tmp_path: Path, url: str, fake: FakeBotAPI, replicas: list[Replica]
) -> None:
    """Polling mode: the leader is stopped while its long poll waits; a user sends a command,
    which that poll takes but the paused leader cannot handle; the other replica takes over
    and answers it. After SIGCONT the old leader makes no getUpdates call at all (one would
    end the new leader's long poll and confirm an update it never handled)."""
    Corpus(tmp_path / "index").drop()
    replicas += [Replica(f"r{i}", tmp_path, url, fake).start() for i in range(2)]
    leader = the_leader(replicas)
    [other] = [r for r in replicas if r is not leader]
    until(
        lambda: polls(fake, leader) > 0,
        timeout=10,
        what="the leader polls",
        context=log_tails(replicas),
    )
    leader.signal(signal.SIGSTOP)
    try:
        fake.command("/help", chat_id=4242)  # the paused leader's long poll takes it
        until(
            lambda: other.role() == "leader",
            timeout=FAILOVER + 5,
            what="take-over",
            context=log_tails(replicas),
        )
        until(lambda: fake.texts(4242), timeout=15, what="the answer", context=log_tails(replicas))
    finally:
        resumed = time.monotonic()
        leader.signal(signal.SIGCONT)
    until(
        lambda: "stopped polling and sending" in leader.stderr(),
        timeout=15,
        what="the old leader follows",
        context=log_tails(replicas),
    )
    fake.command("/help", chat_id=4343)  # after the hand-over: the new leader answers
    until(
        lambda: fake.texts(4343), timeout=15, what="the second answer", context=log_tails(replicas)
    )
    assert polls(fake, leader, since=resumed) == 0, fake.calls("getUpdates")
    assert [s.replica for s in fake.sent if s.chat_id == 4242] == [other.name]
    assert [s.replica for s in fake.sent if s.chat_id == 4343] == [other.name]
    # the poll that took /help may have begun before the resume: wait for the next one
    until(lambda: polls(fake, other, since=resumed) > 0, what="the new leader polls on")
    assert leader.role() == "follower" and other.role() == "leader"


def test_scheduled_jobs_survive_a_postgresql_restart_and_a_stop_in_a_take_over(
    tmp_path: Path, pg_throwaway: ThrowawayServer, fake: FakeBotAPI, replicas: list[Replica]
) -> None:
    """The server restarts under two replicas (the leader loses the lease with its jobs in
    flight), then the leader stops and the other is stopped while it takes over (its digest
    job starts as its scheduler shuts down). Every job ends in one log line: no traceback."""
    url = create_database(pg_throwaway.server, "feedbot_jobs")
    Corpus(tmp_path / "index").drop()
    replicas += [Replica(f"r{i}", tmp_path, url, fake).start() for i in range(2)]
    leader = the_leader(replicas)
    # both run before the server goes (on a busy machine the follower may still be starting)
    until(lambda: all(r.health() for r in replicas), timeout=30, what="both replicas serve")
    pg_throwaway.stop("fast")
    try:
        until(
            lambda: all(r.get("healthz")[0] == 503 for r in replicas),
            timeout=20,
            what="503",
            context=log_tails(replicas),
        )
        until(
            lambda: not leaders(replicas),
            timeout=20,
            what="the lease lost",
            context=log_tails(replicas),
        )
    finally:
        pg_throwaway.start()
    leader = the_leader(replicas)
    [other] = [r for r in replicas if r is not leader]
    fake.delays["setmycommands"] = 1.0  # the next leader takes a while to start its bot
    connects = len(fake.calls("setMyCommands", replica=other.name))
    leader.stop()  # releases the lease: the other takes over at once
    until(
        lambda: len(fake.calls("setMyCommands", replica=other.name)) > connects,
        timeout=15,
        what="the take-over",
        context=log_tails(replicas),
    )
    other.stop()  # in the middle of starting the leader's duties
    for r in replicas:
        assert "Traceback" not in r.stderr(), r.stderr()[-4000:]
