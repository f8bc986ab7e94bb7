"""A real ``python -m feedbot run`` subprocess for end-to-end tests (and the replica kit).

`Daemon` starts it from this checkout with ``env`` laid over the environment, keeps its
stderr (collected by a thread, or appended to a file that outlives restarts), waits for
lines in it, and stops it with SIGTERM (SIGKILL only when asked, or when it hangs).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import feedparser
import httpx

from tests.conftest import ROOT
from tests.waiting import until

__all__ = ["WAIT", "Daemon", "atomic_write", "entries"]

STARTED = r"serving (http://\S+/) "  # the start-up line; its group is the base URL
# How long a wait for a log line may take before it fails the test: a bound for a
# machine busy with parallel test workers (`make test`), never a speed claim — tests that
# claim a speed pass their own ``timeout``.
WAIT = 30.0


class Daemon:
    """One ``python -m feedbot run [args]`` process and its stderr.

    With ``log`` the stderr is appended to that file (a replica restarted on the same
    file keeps one history); otherwise a thread collects it in memory."""

    def __init__(
        self, cwd: Path, env: Mapping[str, str], *args: str, log: Path | None = None
    ) -> None:
        self._file = log
        self.lines: list[str] = []
        self.url = ""
        command = [sys.executable, "-m", "feedbot", "run", *args]
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        if log is not None:
            with log.open("ab") as err:
                self.proc = subprocess.Popen(
                    command, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=err, text=True
                )
            self._reader: threading.Thread | None = None
            return
        self.proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def log(self) -> str:
        if self._file is not None:
            return self._file.read_text(errors="replace") if self._file.exists() else ""
        return "".join(self.lines)

    def tail(self) -> str:
        """The end of the log, for a wait that timed out."""
        return self.log[-3000:]

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, pattern: str, *, timeout: float = WAIT) -> re.Match[str]:
        """The first match of ``pattern`` in the log; fails if the process exits first."""

        def seen() -> re.Match[str] | None:
            assert self.alive, self.log
            return re.search(pattern, self.log)

        found: re.Match[str] = until(seen, timeout=timeout, what=pattern, context=self.tail)
        return found

    def wait_started(self, *, timeout: float = WAIT) -> str:
        """Wait for the start-up line; the base URL it serves."""
        self.url = self.wait_for(STARTED, timeout=timeout).group(1)
        return self.url

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=5)

    def refused(self) -> str:
        """It exits with 2 and one ``feedbot: error:`` line: that line."""
        code = self.proc.wait(timeout=WAIT)
        self.finish_log()
        assert code == 2, self.log
        errors = [line for line in self.log.splitlines() if line.startswith("feedbot: error:")]
        assert len(errors) == 1, self.log
        return errors[0]

    def stop(self, timeout: float = 20.0) -> tuple[int, float]:
        """SIGTERM (SIGCONT first, should it be stopped) and wait: exit code and seconds.
        Raises `subprocess.TimeoutExpired` if it does not end in ``timeout``."""
        start = time.monotonic()
        self.proc.send_signal(signal.SIGCONT)
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.finish_log()
        return code, time.monotonic() - start

    def kill(self) -> None:
        """SIGKILL if still running; release the pipe."""
        if self.alive:
            self.proc.kill()
            self.proc.wait()
        self.finish_log()
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def finish_log(self) -> None:
        """Once the process has exited: wait (up to 5 s) until its log is read to the end."""
        if self._reader is not None:
            self._reader.join(timeout=5)


def fast_env(tmp_path: Path, index: Path) -> dict[str, str]:
    """A daemon on ``index`` that serves on a free port, reads files at once and scans
    every half second, its database under ``tmp_path``."""
    return {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__PATH": str(tmp_path / "var" / "db.sqlite3"),
        "FEEDBOT_HTTP__PORT": "0",
        "FEEDBOT_INDEX__SETTLE_MS": "0",
        "FEEDBOT_INDEX__SCAN_INTERVAL": "0.5",
    }


def atomic_write(index: Path, name: str, text: str) -> None:
    """Write an article as careful tools do: a dotfile first, then renamed into place."""
    tmp = index / f".{name}.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, index / name)


def entries(d: Daemon) -> dict[str, Any]:
    """The entries of the daemon's ``/feed.atom`` by article id, as feedparser reads them."""
    feed = feedparser.parse(d.get("feed.atom").content)
    return {e.id.rsplit(":", 1)[-1]: e for e in feed.entries}
