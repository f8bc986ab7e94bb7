"""What ``/healthz`` says: the daemon's state, with failures named by kind.

``/healthz`` is public on ``http.host``, so it says what *kind* of thing failed
(``database unreachable``, ``scan failed: PermissionError (Permission denied)``) and
never the detail that would show configuration: not the database URL, its user, host,
port or name, nor a file path. The log keeps the full detail (passwords masked).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from feedbot.errors import StoreError

if TYPE_CHECKING:
    from feedbot.runtime.daemon import Daemon

__all__ = ["UNREACHABLE", "check_database", "document", "failure_kind"]

log = logging.getLogger("feedbot.daemon")

UNREACHABLE = "database unreachable"


def failure_kind(error: BaseException) -> str:
    """``error`` as a kind that holds no configuration: the exception's class (for a
    database error, the driver's), and for an OS error its reason without the file name."""
    if isinstance(error, StoreError):
        cause = getattr(error.__cause__, "orig", None) or error.__cause__
        return "database error" + (f" ({type(cause).__name__})" if cause is not None else "")
    if isinstance(error, OSError) and error.strerror:
        return f"{type(error).__name__} ({error.strerror})"
    return type(error).__name__


def check_database(daemon: Daemon) -> str | None:
    """Whether the database path still names the open file; logs the change once (at
    ERROR when it goes, at INFO when it is back) and keeps it in ``daemon.db_problem``."""
    problem = daemon.identity.problem() if daemon.identity is not None else None
    if problem is not None and problem != daemon.db_problem:
        log.error("%s: %s", daemon.store.name, problem)
    elif problem is None and daemon.db_problem is not None:
        log.info("%s: the database file is back", daemon.store.name)
    daemon.db_problem = problem
    return problem


def document(daemon: Daemon) -> tuple[dict[str, Any], bool]:
    """The `/healthz` document of ``daemon`` and whether all is well."""
    now = datetime.now(UTC)
    overdue = 3 * daemon.index.scan_interval
    unreachable = daemon.store.outage is not None or daemon.leadership.db_error is not None
    if check_database(daemon) is not None:
        status, ok = "database file missing", False
    elif unreachable:
        status, ok = UNREACHABLE, False
    elif not daemon.leadership.leading:
        status, ok = "ok", True  # a follower serves; the leader scans
    elif daemon.last_scan is None:
        status, ok = "starting", False
    elif daemon.last_error is not None:
        status, ok = "scan failed", False
    elif (now - daemon.last_scan).total_seconds() > overdue:
        status, ok = "scan overdue", False
    else:
        status, ok = "ok", True
    down = [problem for c in daemon.components if (problem := c.down())]
    if ok and down:  # a crashed sender or editor, restarting
        status, ok = "; ".join(down), False
    bad = daemon.bad
    body: dict[str, Any] = {
        "status": status,
        "last_scan": daemon.last_scan.isoformat() if daemon.last_scan else None,
        "last_scan_seconds": daemon.last_duration,
        "last_error": daemon.last_error,
        "database_error": daemon.db_problem or (UNREACHABLE if unreachable else None),
        "articles": daemon.articles,
        "bad_files": len(bad),
        "bad": list(bad[:100]),
        "started": daemon.started.isoformat(),
        **daemon.leadership.health(),
    }
    for component in daemon.components:
        body.update(component.health())
    return body, ok
