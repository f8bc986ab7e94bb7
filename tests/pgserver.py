"""Real PostgreSQL for the tests.

`shared_server()` finds the server the suite uses: the one at 127.0.0.1:5432 (trust
auth, user ``postgres``, as on CI machines that run one; ``PG_TEST_PORT`` names another
port), or else a throwaway server
started here from Debian's ``postgresql`` package (installed with apt-get when
missing). It never skips: when neither works it raises `PostgresUnavailable` with the
reason, and every PostgreSQL test fails with it.

`ThrowawayServer` is a server of its own (own data folder, own port) that a test may
stop, kill and start again — restart tests use one; they never touch the shared server,
which other test runs on the machine use at the same time.

`create_database` / `drop_database` make the fresh, uniquely named databases the
fixtures in ``conftest.py`` hand out.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

__all__ = [
    "PostgresUnavailable",
    "Server",
    "ThrowawayServer",
    "create_database",
    "drop_database",
    "drop_orphans",
    "fresh_database",
    "shared_server",
    "unique_name",
]

SHARED_HOST = "127.0.0.1"
SHARED_PORT = int(os.environ.get("PG_TEST_PORT", "5432"))  # to try the fallback: PG_TEST_PORT=1
SUPERUSER = "postgres"
START_TIMEOUT = 30  # seconds for pg_ctl to see the server accept connections


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL could be found or started; the message says why."""


@dataclass(frozen=True)
class Server:
    """Where a PostgreSQL server listens (a superuser may connect from 127.0.0.1)."""

    host: str
    port: int
    user: str = SUPERUSER
    password: str | None = None

    def url(self, database: str = "postgres", *, driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        auth = self.user if self.password is None else f"{self.user}:{self.password}"
        return f"{driver}://{auth}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit psycopg connection as the superuser."""
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def accepts(self) -> bool:
        """True when the server takes a connection now."""
        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True


def unique_name(prefix: str = "feedbot_test") -> str:
    """A database name no other run (nor pytest-xdist worker) on this machine uses:
    ``<prefix>_<pid>_<worker>_<random>``, the pid first so `drop_orphans` can tell whose
    it is."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{prefix}_{os.getpid()}_{worker}_{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_orphans(server: Server, prefix: str = "feedbot_test") -> list[str]:
    """Drop the databases of earlier runs on this machine whose process is gone (a run
    killed before its fixtures could drop them); the names dropped."""
    pattern = re.compile(rf"{re.escape(prefix)}_(\d+)_")
    with server.connect() as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix + "_",)
        ).fetchall()
    dropped = []
    for (name,) in rows:
        found = pattern.match(str(name))
        if found and not _alive(int(found.group(1))):
            with contextlib.suppress(psycopg.Error):  # another worker dropped it first
                drop_database(server, str(name))
                dropped.append(str(name))
    return dropped


def create_database(server: Server, name: str, *, icu_locale: str | None = None) -> str:
    """Create the empty database ``name`` (sorting text by ``icu_locale``, such as
    ``en-US``, instead of the server's default); return its SQLAlchemy URL."""
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if icu_locale is not None:
        query += sql.SQL(" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE {}").format(
            sql.Literal(icu_locale)
        )
    with server.connect() as conn:
        conn.execute(query)
    return server.url(name)


def drop_database(server: Server, name: str) -> None:
    """Drop ``name``, closing whatever connections a test left open."""
    with server.connect() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextlib.contextmanager
def fresh_database(
    server: Server, prefix: str = "feedbot_test", *, icu_locale: str | None = None
) -> Iterator[str]:
    """A new empty database for the block; its URL. Dropped afterwards."""
    name = unique_name(prefix)
    url = create_database(server, name, icu_locale=icu_locale)
    try:
        yield url
    finally:
        drop_database(server, name)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindir() -> Path:
    """The folder with initdb and pg_ctl, installing Debian's ``postgresql`` when missing."""
    found = _find_bindir()
    if found is not None:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PostgresUnavailable(
            "no PostgreSQL at 127.0.0.1:5432 and no initdb/pg_ctl to start one "
            "(install Debian's postgresql package, or start a server with trust auth on 5432)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"no PostgreSQL at 127.0.0.1:5432 and `{' '.join(command)}` failed: "
                f"{done.stderr.strip()[-500:]}"
            )
    found = _find_bindir()
    if found is None:
        raise PostgresUnavailable("apt-get installed postgresql but no initdb was found")
    return found


def _find_bindir() -> Path | None:
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).resolve().parent if on_path else None


def _as_owner() -> tuple[list[str], int | None]:
    """The command prefix that runs PostgreSQL's tools as a non-root user (initdb refuses
    root) and that user's uid; nothing when we are not root."""
    if os.geteuid() != 0:
        return [], None
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresUnavailable(
            "running as root and there is no `postgres` user to run initdb as"
        ) from None
    return ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}", "--init-groups"], (
        owner.pw_uid
    )


@dataclass
class ThrowawayServer:
    """A PostgreSQL server of its own in a temporary folder, on a free port.

    ``password`` set → TCP connections need it (scram-sha-256); else trust. Stop it,
    kill it, start it again; `close` stops it and removes its folder.
    """

    password: str | None = None
    port: int = field(default_factory=free_port)
    root: Path = field(init=False)
    _bindir: Path = field(init=False)
    _prefix: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self._bindir = _bindir()
        self._prefix, uid = _as_owner()
        self.root = Path(tempfile.mkdtemp(prefix="feedbot-pg-"))
        if uid is not None:
            os.chown(self.root, uid, -1)
        self._initdb()

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "server.log"

    @property
    def server(self) -> Server:
        return Server(SHARED_HOST, self.port, SUPERUSER, self.password)

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self._prefix, *args], capture_output=True, text=True, check=False, cwd=self.root
        )
        if check and done.returncode != 0:
            raise PostgresUnavailable(
                f"`{Path(args[0]).name} {' '.join(args[1:3])}` failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-800:]}"
            )
        return done

    def _initdb(self) -> None:
        args = [str(self._bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER]
        args += ["--encoding=UTF8", "--locale=C", "--auth-local=trust"]
        if self.password is None:
            args.append("--auth-host=trust")
        else:
            pwfile = self.root / "pwfile"
            pwfile.write_text(self.password + "\n")
            if self._prefix:
                os.chown(pwfile, pwd.getpwnam("postgres").pw_uid, -1)
            args += ["--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
        self._run(*args)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        pg_ctl = str(self._bindir / "pg_ctl")
        self._run(pg_ctl, "start", "-w", "-t", str(START_TIMEOUT), "-D", str(self.data),
                  "-l", str(self.log), "-o", options)  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: close connections; ``immediate``: like a crash)."""
        pg_ctl = str(self._bindir / "pg_ctl")
        self._run(pg_ctl, "stop", "-w", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        pg_ctl = str(self._bindir / "pg_ctl")
        return self._run(pg_ctl, "status", "-D", str(self.data), check=False).returncode == 0

    def close(self) -> None:
        """Stop the server if it runs and remove its folder."""
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@contextlib.contextmanager
def shared_server() -> Iterator[Server]:
    """The server for the run: 127.0.0.1:5432 when it takes a connection, else a throwaway
    server for the session. Raises `PostgresUnavailable` (never skips)."""
    local = Server(SHARED_HOST, SHARED_PORT)
    if local.accepts():
        yield local
        return
    throwaway = ThrowawayServer()
    try:
        throwaway.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not throwaway.server.accepts():
            if time.monotonic() > deadline:
                raise PostgresUnavailable(f"the throwaway server did not start: {throwaway.log}")
            time.sleep(0.1)
        yield throwaway.server
    finally:
        throwaway.close()
