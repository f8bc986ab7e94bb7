"""Shared fixtures. Area-specific helpers live in their own modules under tests/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from feedbot.store import Store

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


@pytest.fixture
def seed_bytes() -> bytes:
    return SEED.read_bytes()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real SQLite store in a file under tmp_path."""
    s = Store.open(tmp_path / "feedbot.sqlite3")
    yield s
    s.close()
