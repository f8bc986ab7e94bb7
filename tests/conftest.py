"""Shared fixtures. Area-specific helpers live in their own modules under tests/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from feedbot.store import Store
from tests.pgserver import (
    Server,
    ThrowawayServer,
    drop_orphans,
    fresh_database,
    shared_server,
)

if TYPE_CHECKING:
    from tests.daemonkit import Daemon

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED = SEEDS / "000_52a7b11c330feae9.txt"


@pytest.fixture(autouse=True)
def _clean_feedbot_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own FEEDBOT_* settings."""
    import os

    for key in list(os.environ):
        if key.startswith("FEEDBOT_"):
            monkeypatch.delenv(key)


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """Every test leaves logging as it found it: `setup_logging` quiets some libraries'
    loggers and replaces the root handler, which would hide records from later tests."""
    import logging

    root = logging.getLogger()
    handlers, level = set(root.handlers), root.level
    levels = {
        name: logger.level
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    yield
    for handler in list(root.handlers):
        if getattr(handler, "_feedbot", False) and handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(levels.get(name, logging.NOTSET))


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start ``feedbot run`` subprocesses in tmp_path: ``start(env, *args)``; killed after."""
    from tests.daemonkit import Daemon

    started: list[Daemon] = []

    def run(env: dict[str, str], *args: str) -> Daemon:
        d = Daemon(tmp_path, env, *args)
        started.append(d)
        return d

    yield run
    for d in started:
        d.kill()


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED.read_bytes()


ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgresql),
]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Server]:
    """The PostgreSQL server of the run (127.0.0.1:5432, or a throwaway one); never skips.
    Databases that killed runs left behind on it are dropped first."""
    with shared_server() as server:
        drop_orphans(server)
        yield server


@pytest.fixture(scope="session")
def pg_run_url(pg_server: Server) -> Iterator[str]:
    """A fresh database for this run (a unique name), dropped at the end."""
    with fresh_database(pg_server) as url:
        yield url


@pytest.fixture
def pg_url(pg_server: Server, pg_run_url: str) -> Iterator[str]:
    """The run's database, emptied for this test: its schema is dropped and re-created
    afterwards, so every test starts from a database with no tables."""
    yield pg_run_url
    name = pg_run_url.rsplit("/", 1)[1]
    with pg_server.connect(name) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture
def new_pg_database(pg_server: Server) -> Iterator[Callable[..., str]]:
    """Make more fresh databases (for a second store, a daemon, a copy-db target; keyword
    ``icu_locale="en-US"`` for one that sorts text by a natural language); each is dropped
    after the test."""
    with ExitStack() as stack:
        yield lambda **options: stack.enter_context(fresh_database(pg_server, **options))


@pytest.fixture
def pg_throwaway() -> Iterator[ThrowawayServer]:
    """A PostgreSQL server of the test's own, that it may stop and start again."""
    with ThrowawayServer() as server:
        yield server


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``: tests using it (or `database_url`, `store`) run on both."""
    return str(request.param)


@pytest.fixture
def database_url(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The test's database as ``storage.url``: a SQLite file under tmp_path, or an empty
    PostgreSQL database."""
    if engine == "sqlite":
        return sqlite_url(tmp_path / "feedbot.sqlite3")
    return str(request.getfixturevalue("pg_url"))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
def store(engine: str, database_url: str, tmp_path: Path) -> Iterator[Store]:
    """A real store on each engine: a SQLite file under tmp_path (opened by path, as by
    default), or an empty PostgreSQL database (opened by URL)."""
    url = None if engine == "sqlite" else database_url
    s = Store.open(tmp_path / "feedbot.sqlite3", url=url)
    yield s
    s.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On pytest-xdist workers (``make test``) the slow end-to-end tests run first, so the
    workers share them out early and none of them is left running alone at the end; a
    run on one process keeps the files' order."""
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)
