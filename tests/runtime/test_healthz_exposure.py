"""A public ``/healthz`` names the kind of failure and never the database URL,
its user, host, port or name, nor the database file; the log keeps the detail. Real
`feedbot run` processes: one on a PostgreSQL server of the test's own that is stopped
under it, one on a SQLite file that cannot be written."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from psycopg import sql

from tests.conftest import SEED
from tests.daemonkit import Daemon
from tests.pgserver import ThrowawayServer
from tests.waiting import until

pytestmark = pytest.mark.slow

PASSWORD = "hz-S3cret-" + "pw"
USER = "newsdesk_operator"
DATABASE = "newsdesk_production"


def index_with_one_article(tmp_path: Path) -> Path:
    index = tmp_path / "index"
    index.mkdir()
    (index / "001_a.txt").write_bytes(SEED.read_bytes())
    return index


def leaks(text: str, *secrets: str) -> list[str]:
    """Which of ``secrets`` appear in ``text`` (a number only as a whole number)."""
    found = []
    for secret in secrets:
        pattern = rf"(?<![\d.]){secret}(?![\d.])" if secret.isdigit() else re.escape(secret)
        if re.search(pattern, text):
            found.append(secret)
    return found


@pytest.mark.postgresql
def test_an_unreachable_postgresql_is_named_by_kind(
    tmp_path: Path, start: Callable[..., Daemon]
) -> None:
    with ThrowawayServer(password=PASSWORD) as pg:
        with pg.server.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(USER), sql.Literal(PASSWORD)
                )
            )
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(USER)
                )
            )
        url = f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:{pg.port}/{DATABASE}"
        d = start(
            {
                "FEEDBOT_INDEX__PATH": str(index_with_one_article(tmp_path)),
                "FEEDBOT_INDEX__SCAN_INTERVAL": "0.5",
                "FEEDBOT_STORAGE__URL": url,
                "FEEDBOT_HTTP__PORT": "0",
                "FEEDBOT_CLUSTER__REPLICA_NAME": "web-1",
            }
        )
        d.wait_started(timeout=30)
        until(lambda: d.get("healthz").status_code == 200, timeout=20, what="healthy")
        before = d.get("healthz").json()["last_scan"]
        pg.stop("fast")

        def failed_scan() -> httpx.Response | None:
            # a scan under way when the server stopped may still end well (last_error
            # None): wait for one that failed
            r = d.get("healthz")
            body = r.json()
            failed = body["last_scan"] != before and body["last_error"] is not None
            return r if r.status_code == 503 and failed else None

        response = until(failed_scan, timeout=30, what="a 503 after a failed scan")
        body = response.json()
        assert body["status"] == "database unreachable"
        assert body["last_error"] == "database unreachable"
        assert body["database_error"] == "database unreachable"
        assert body["lease"]["error"] in (None, "database unreachable")
        found = leaks(response.text, USER, DATABASE, "127.0.0.1", str(pg.port), PASSWORD)
        assert found == [], response.text
        assert "postgresql" not in response.text
        # the log keeps the detail, the password masked
        until(lambda: "database unreachable" in d.log, what="the logged outage")
        assert f"{USER}:***@127.0.0.1:{pg.port}/{DATABASE}: database unreachable" in d.log
        assert PASSWORD not in d.log
        assert d.stop()[0] == 0


def test_a_failing_sqlite_database_is_named_by_kind(
    tmp_path: Path, start: Callable[..., Daemon]
) -> None:
    index = index_with_one_article(tmp_path)
    database = tmp_path / "var" / "hidden-name.sqlite3"
    env = {
        "FEEDBOT_INDEX__PATH": str(index),
        "FEEDBOT_STORAGE__PATH": str(database),
        "FEEDBOT_INDEX__SCAN_INTERVAL": "0.5",
        "FEEDBOT_INDEX__SETTLE_MS": "0",
        "FEEDBOT_HTTP__PORT": "0",
    }
    d = start(env)
    d.wait_started(timeout=30)
    until(lambda: d.get("healthz").status_code == 200, timeout=30, what="healthy")
    files = [database, Path(f"{database}-wal")]
    subprocess.run(["chattr", "+i", *map(str, files)], check=True)
    try:
        (index / "002_b.txt").write_bytes(SEED.read_bytes().replace(b"date ", b"date  "))
        response = until(
            lambda: (r := d.get("healthz")).status_code == 503 and r, what="the failed scan"
        )
        body = response.json()
        assert body["status"] == "scan failed"
        assert body["last_error"] == "scan failed: database error (OperationalError)"
        assert "hidden-name" not in response.text and str(tmp_path) not in response.text
        until(lambda: re.search(r"scan \(\w+\) failed: StoreError: .*hidden-name", d.log),
              what="the detail in the log")  # fmt: skip
    finally:
        subprocess.run(["chattr", "-i", *map(str, files)], check=True)
    # recovered (a scan on fresh connections) before the file goes: else a scan that opens a
    # connection after the delete would create a new file, and "replaced" would be right
    until(lambda: d.get("healthz").status_code == 200, what="recovery")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    response = until(
        lambda: (r := d.get("healthz")).json()["database_error"] and r, what="the deleted file"
    )
    # deleted, or (a scan that opened a connection meanwhile made a new file) replaced
    error = response.json()["database_error"]
    assert error.startswith(("the database file was deleted", "the database file was replaced"))
    assert "hidden-name" not in response.text
    d.wait_for(r"ERROR feedbot\.\w+: \S*hidden-name\.sqlite3: the database file was deleted")
    assert d.stop()[0] == 0
