"""SIGHUP on a built daemon: `Reloader` applies the live keys to the running parts and keeps
the rest as at start; a configuration that cannot be read changes nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from feedbot.app import build_daemon
from feedbot.config import Settings
from feedbot.errors import ConfigError
from feedbot.store import Publishing, Store


def settings(tmp_path: Path, **telegram: object) -> Settings:
    return Settings(
        index={"path": tmp_path / "index", "scan_interval": 30},  # type: ignore[arg-type]
        storage={"path": tmp_path / "db.sqlite3"},  # type: ignore[arg-type]
        telegram=telegram,  # type: ignore[arg-type]
    )


def test_channels_and_the_scan_interval_apply_the_rest_waits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "index").mkdir()
    first = settings(tmp_path, channels=["@old"], delay=5, on_edit="edit")
    store = Store.open(tmp_path / "db.sqlite3")
    try:
        new = settings(tmp_path, channels=["@new", "100"], delay=60, on_edit="ignore")
        new = new.model_copy(update={"index": new.index.model_copy(update={"scan_interval": 7})})
        daemon = build_daemon(first, store, reload=lambda: new)
        # The store queues a new article's deliveries under the settings it was built with.
        assert store.articles.publishing == Publishing(
            "edit", "mark", timedelta(seconds=5), ("@old",)
        )
        with caplog.at_level(logging.INFO, logger="feedbot.daemon"):
            daemon.reload()
        # telegram.channels is live; telegram.delay and telegram.on_edit need a restart.
        assert store.articles.publishing == Publishing(
            "edit", "mark", timedelta(seconds=5), ("@new", "100")
        )
        assert daemon.index.scan_interval == 7 and daemon.index.path == tmp_path / "index"
        line = next(r.getMessage() for r in caplog.records if "SIGHUP" in r.getMessage())
        assert "applied: index.scan_interval, telegram.channels;" in line
        assert "needs a restart: telegram.on_edit, telegram.delay" in line
    finally:
        store.close()


def test_a_configuration_that_cannot_be_read_changes_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "index").mkdir()

    def broken() -> Settings:
        raise ConfigError("feedbot.toml: line 1: expected ']'")

    store = Store.open(tmp_path / "db.sqlite3")
    try:
        daemon = build_daemon(settings(tmp_path, channels=["@old"]), store, reload=broken)
        with caplog.at_level(logging.ERROR, logger="feedbot.daemon"):
            daemon.reload()
        assert store.articles.publishing.channels == ("@old",)
        assert daemon.index.scan_interval == 30
        assert "configuration not applied, the old one stays" in caplog.text
    finally:
        store.close()
