"""Logging setup: stderr, text or JSON lines, and secrets redacted from every record.

`setup_logging` installs one handler on the root logger. Its `RedactFilter`
replaces each secret (the bot token) wherever it appears — in the message, its
arguments, the exception text and the stack — with ``[REDACTED]``; httpx and
httpcore, which log request URLs (and the Bot API URL contains the token), are
held at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["REDACTED", "JsonFormatter", "RedactFilter", "redact", "setup_logging"]

REDACTED = "[REDACTED]"
_QUIET = (
    "alembic",
    "httpx",
    "httpcore",
    "apscheduler",
    "watchfiles",
    "uvicorn.access",
    "uvicorn.error",
)


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``[REDACTED]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


class RedactFilter(logging.Filter):
    """Rewrites records so that no secret survives formatting."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        record.msg = redact(message, self.secrets)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.secrets)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message (and exc)."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            data["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc"] = record.exc_text
        if record.stack_info:
            data["stack"] = record.stack_info
        return json.dumps(data, ensure_ascii=False)


def setup_logging(
    level: str = "INFO",
    fmt: str = "text",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> logging.Handler:
    """Log to ``stream`` (stderr) at ``level`` as ``fmt``; returns the installed handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_feedbot", False):
            root.removeHandler(old)
    handler._feedbot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler
