"""Replicas for fault tests: several ``python -m feedbot run`` processes on one PostgreSQL
database and one index folder, each with its own port, name and fake-visible identity
(its Telegram base URL is ``…/r/<name>/bot``, so the fake records who sent what)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from feedbot.fakegram import FakeBotAPI
from tests.botkit import TOKEN
from tests.daemonkit import Daemon
from tests.pgserver import free_port

__all__ = ["Corpus", "Replica", "leaders", "log_tails", "max_per_second"]


class Replica:
    """One ``feedbot run`` subprocess of a deployment."""

    def __init__(
        self,
        name: str,
        tmp_path: Path,
        url: str,
        fake: FakeBotAPI | None,
        **extra: str,
    ) -> None:
        self.name = name
        self.tmp_path = tmp_path
        self.url = url
        self.fake = fake
        self.port = free_port()
        self.extra = extra
        self.log = tmp_path / f"{name}.log"
        self.daemon: Daemon | None = None

    def start(self) -> Replica:
        env = {
            "FEEDBOT_INDEX__PATH": str(self.tmp_path / "index"),
            "FEEDBOT_INDEX__SETTLE_MS": "50",
            "FEEDBOT_INDEX__SCAN_INTERVAL": "2",
            "FEEDBOT_STORAGE__URL": self.url,
            "FEEDBOT_HTTP__PORT": str(self.port),
            "FEEDBOT_CLUSTER__REPLICA_NAME": self.name,
            "FEEDBOT_LOG__LEVEL": "INFO",
            **self.extra,
        }
        if self.fake is not None:
            env["FEEDBOT_TELEGRAM__TOKEN"] = TOKEN
            env["FEEDBOT_TELEGRAM__API_BASE_URL"] = self.fake.base_url_for(self.name)
        self.daemon = Daemon(self.tmp_path, env, log=self.log)
        return self

    @property
    def alive(self) -> bool:
        return self.daemon is not None and self.daemon.alive

    def signal(self, sig: signal.Signals) -> None:
        assert self.daemon is not None
        self.daemon.proc.send_signal(sig)

    def kill(self) -> None:
        assert self.daemon is not None
        self.daemon.kill()

    def stop(self) -> None:
        """SIGTERM and wait (SIGCONT first, in case it is stopped); SIGKILL if it hangs."""
        if self.daemon is None or not self.daemon.alive:
            return
        try:
            code, _ = self.daemon.stop(timeout=20)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            raise AssertionError(f"{self.name} did not stop within 20 s\n{self.stderr()}") from None
        assert code == 0, f"{self.name} exited {code}\n{self.stderr()}"

    def get(self, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
        """GET ``path`` from this replica: (status, body); (0, b"") when it does not answer."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/{path}", timeout=timeout
            ) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except (OSError, urllib.error.URLError):
            return 0, b""

    def health(self) -> dict[str, Any]:
        """``/healthz`` as JSON (empty when the replica does not answer)."""
        status, body = self.get("healthz", timeout=2.0)
        return json.loads(body) if status else {}

    def role(self) -> str | None:
        return self.health().get("role")

    def stderr(self) -> str:
        if self.daemon is not None:
            return self.daemon.log
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def leaders(replicas: Iterable[Replica]) -> list[Replica]:
    """The running replicas that say they lead."""
    return [r for r in replicas if r.alive and r.role() == "leader"]


def log_tails(replicas: Sequence[Replica]) -> Callable[[], str]:
    """Every replica's log tail, as the ``context`` of a wait that timed out."""

    def tails() -> str:
        return "\n".join(f"--- {r.name}\n{r.stderr()[-4000:]}" for r in replicas)

    return tails


def max_per_second(times: Sequence[float]) -> int:
    """The most events in any one-second window."""
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class Corpus:
    """Article files from the bench corpus, dropped atomically into an index folder."""

    def __init__(self, folder: Path, count: int = 50, seed: int = 3) -> None:
        from feedbot.articles.corpus import generate

        folder.mkdir(exist_ok=True)
        self.folder = folder
        self._files = iter(generate(count, seed=seed))

    def drop(self) -> str:
        """Write the next article; its id."""
        name, data = next(self._files)
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.folder / name)
        return name.removesuffix(".txt")
