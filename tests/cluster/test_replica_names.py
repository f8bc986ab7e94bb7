"""Two replicas under one `cluster.replica_name`. Real `feedbot run`
replicas on a fresh PostgreSQL database: the second one of a name that a live replica
holds is refused (exit 2, one line naming the holder); the name is free again at once
after a clean stop, and after a crash once the holder's lease on it has expired."""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import SEED
from tests.daemonkit import Daemon
from tests.replicakit import Replica, log_tails
from tests.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.postgresql]

RUNNING = r"feedbot\.leader: replica \S+: lease "  # leader or follower, it runs
LEASE = {"FEEDBOT_CLUSTER__LEASE_SECONDS": "3", "FEEDBOT_CLUSTER__RENEW_INTERVAL": "0.5"}


@pytest.fixture
def replicas() -> Iterator[list[Replica]]:
    started: list[Replica] = []
    yield started
    for r in started:
        if r.alive:
            r.stop()
        if r.daemon is not None:
            r.daemon.kill()


def start_once_free(make: Callable[[], Replica], replicas: list[Replica]) -> Replica:
    """Start replicas of a held name until one is not refused: each refused one exits 2,
    and within 25 s (the leases here are at most 8 s) the name is free."""
    deadline = time.monotonic() + 25
    while True:
        r = make()
        d = r.daemon
        assert d is not None

        def decided(d: Daemon = d) -> bool:
            return not d.alive or re.search(RUNNING, d.log) is not None

        until(decided, timeout=30, what="started or refused", context=log_tails(replicas))
        if d.alive:
            return r
        assert d.proc.wait() == 2 and "in use by another live replica" in d.log, d.log
        assert time.monotonic() < deadline, d.log
        time.sleep(0.2)


def test_a_second_replica_of_a_live_name_is_refused(
    new_pg_database: Callable[[], str], tmp_path: Path, replicas: list[Replica]
) -> None:
    url = new_pg_database()
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "001_a.txt").write_bytes(SEED.read_bytes())

    def replica(name: str, log: str, **env: str) -> Replica:
        r = Replica(name, tmp_path, url, None, **{**LEASE, **env})
        r.log = tmp_path / f"{log}.log"  # two replicas of one name: two logs
        replicas.append(r)
        return r.start()

    first = replica("web-1", "first")
    until(
        lambda: first.role() == "leader",
        timeout=30,
        what="web-1 leads",
        context=log_tails(replicas),
    )

    twin = replica("web-1", "twin")
    assert twin.daemon is not None
    line = twin.daemon.refused()
    assert "cluster.replica_name 'web-1' is in use by another live replica" in line, line
    assert first.daemon is not None and f"pid {first.daemon.proc.pid} " in line, line
    assert first.alive and first.health()["leader"] == "web-1"

    other = replica("web-2", "other")  # another name starts and follows
    until(
        lambda: (h := other.health()).get("role") == "follower" and h["leader"] == "web-1",
        timeout=30,
        what="web-2 follows web-1",
        context=log_tails(replicas),
    )

    first.stop()  # a clean stop lets the name go: the same name starts again at once
    # its lease on the name outlasts a slow start of the next one under load
    again = replica("web-1", "again", FEEDBOT_CLUSTER__LEASE_SECONDS="8")
    until(
        lambda: again.role() in ("leader", "follower"),
        timeout=30,
        what="web-1 again",
        context=log_tails(replicas),
    )

    again.kill()  # a crash: the name is held until its lease runs out, then free
    refused = replica("web-1", "after-crash")
    assert refused.daemon is not None
    assert "is in use by another live replica" in refused.daemon.refused()
    late = start_once_free(lambda: replica("web-1", f"late-{len(replicas)}"), replicas)
    until(
        lambda: late.health().get("replica") == "web-1",
        timeout=30,
        what="web-1 serves",
        context=log_tails(replicas),
    )


def test_a_paused_replica_that_finds_its_name_taken_says_so(
    new_pg_database: Callable[[], str], tmp_path: Path, replicas: list[Replica]
) -> None:
    """Paused past its lease, a replica's name is free: a twin starts under it. The paused
    one, resumed, finds the name held by a live process and logs the clash at ERROR."""
    url = new_pg_database()
    (tmp_path / "index").mkdir()
    first = Replica("web-1", tmp_path, url, None, **LEASE)
    replicas.append(first.start())
    until(
        lambda: first.role() == "leader",
        timeout=30,
        what="web-1 leads",
        context=log_tails(replicas),
    )
    first.signal(signal.SIGSTOP)

    def make_twin() -> Replica:
        twin = Replica("web-1", tmp_path, url, None, **LEASE)
        twin.log = tmp_path / f"twin-{len(replicas)}.log"
        replicas.append(twin)
        return twin.start()

    twin = start_once_free(make_twin, replicas)  # once the paused one's lease on it ran out
    until(
        lambda: twin.role() == "leader",
        timeout=30,
        what="the twin leads",
        context=log_tails(replicas),
    )
    first.signal(signal.SIGCONT)
    until(
        lambda: "replica name 'web-1' was taken by another process" in first.stderr(),
        timeout=15,
        what="the clash in the resumed replica's log",
        context=log_tails(replicas),
    )
    assert "ERROR feedbot.leader" in first.stderr()
    assert twin.daemon is not None and f"pid {twin.daemon.proc.pid} " in first.stderr()
