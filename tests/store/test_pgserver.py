"""The PostgreSQL test infrastructure itself: a throwaway server starts, stops, starts
again with its data, and asks for its password when it has one."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from tests.pgserver import (
    Server,
    ThrowawayServer,
    create_database,
    drop_orphans,
    fresh_database,
    unique_name,
)

pytestmark = pytest.mark.postgresql


def test_fresh_database_is_empty_and_dropped(pg_server: Server) -> None:
    with fresh_database(pg_server) as url:
        name = url.rsplit("/", 1)[1]
        with pg_server.connect(name) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
            assert tables.fetchone() == (0,)
    with pg_server.connect() as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        assert found.fetchone() is None


def test_databases_of_dead_runs_are_dropped_and_live_ones_kept(
    pg_throwaway: ThrowawayServer,
) -> None:
    server = pg_throwaway.server
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = f"feedbot_test_{ended.pid}_gw9_0123abcd"
    live = unique_name()
    for name in (dead, live, "feedbot_other"):
        create_database(server, name)
    assert drop_orphans(server) == [dead]
    with server.connect() as conn:
        names = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert live in names and "feedbot_other" in names and dead not in names


def test_throwaway_server_restarts_with_its_data(pg_throwaway: ThrowawayServer) -> None:
    server = pg_throwaway.server
    assert server.port != 5432
    with server.connect() as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (7)")
    pg_throwaway.stop()
    assert not server.accepts()
    pg_throwaway.start()
    with server.connect() as conn:
        assert conn.execute("SELECT n FROM kept").fetchone() == (7,)


def test_throwaway_server_with_a_password_refuses_a_wrong_one() -> None:
    with ThrowawayServer(password="s3cret-pw") as pg:
        assert pg.server.accepts()
        wrong = Server(pg.server.host, pg.server.port, password="nope")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            wrong.connect()
