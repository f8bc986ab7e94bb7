"""Logging: secrets redacted everywhere, text and JSON formats, noisy loggers held back."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from feedbot.runtime.logs import REDACTED, redact, setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = setup_logging("DEBUG", "text", secrets=[TOKEN], stream=out)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def test_redact() -> None:
    assert redact(f"a {TOKEN} b {TOKEN}", [TOKEN, ""]) == f"a {REDACTED} b {REDACTED}"


def test_redacts_message_and_args(stream: io.StringIO) -> None:
    log = logging.getLogger("feedbot.test")
    log.info("url https://api.telegram.org/bot%s/getMe", TOKEN)
    log.info(f"formatted https://api.telegram.org/bot{TOKEN}/sendMessage")
    log.warning("dict %s", {"url": f"/bot{TOKEN}/x"})
    text = stream.getvalue()
    assert TOKEN not in text
    assert text.count(REDACTED) == 3
    assert "https://api.telegram.org/bot[REDACTED]/getMe" in text


def test_redacts_tracebacks_and_stack(stream: io.StringIO) -> None:
    log = logging.getLogger("feedbot.test")
    try:
        raise RuntimeError(f"request to /bot{TOKEN}/getUpdates failed")
    except RuntimeError:
        log.exception("boom")
    log.info("stack", stack_info=True, extra={"token": TOKEN})
    text = stream.getvalue()
    assert "Traceback" in text and "RuntimeError: request to /bot[REDACTED]/getUpdates" in text
    assert TOKEN not in text


def test_json_format_redacts() -> None:
    out = io.StringIO()
    handler = setup_logging("INFO", "json", secrets=[TOKEN], stream=out)
    try:
        log = logging.getLogger("feedbot.test")
        log.debug("hidden %s", TOKEN)
        try:
            raise ValueError(TOKEN)
        except ValueError:
            log.error("failed for %s", TOKEN, exc_info=True)
    finally:
        logging.getLogger().removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["level"] == "ERROR" and data["logger"] == "feedbot.test"
    assert data["message"] == f"failed for {REDACTED}"
    assert "ValueError: [REDACTED]" in data["exc"] and TOKEN not in lines[0]


def test_http_client_loggers_quiet(stream: io.StringIO) -> None:
    logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot.../getMe")
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
    assert "HTTP Request" not in stream.getvalue()


def test_setup_twice_keeps_one_handler() -> None:
    root = logging.getLogger()
    first = setup_logging("INFO", "text", stream=io.StringIO())
    second = setup_logging("INFO", "text", stream=io.StringIO())
    try:
        assert first not in root.handlers and second in root.handlers
    finally:
        root.removeHandler(second)
