"""Shared pieces of the Telegram tests: a real-looking token, settings, an index with articles."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from feedbot.articles.corpus import generate
from feedbot.articles.parse import parse
from feedbot.config import Settings
from feedbot.ingest.scan import Indexer
from feedbot.store import Publishing, Store
from feedbot.telegram.render.parse_html import parse_telegram_html

__all__ = ["BASE_URL", "TOKEN", "Index", "assert_token_absent", "make_settings", "plain"]

# Shaped like a real token (bot id, colon, 35 characters), so any leak is easy to spot.
TOKEN = "123456789:AAH" + "x7Kq2Lm9Zp4Rt8Vw1Ys6Nb3Jc5Hd0Fg2Ke"
BASE_URL = "https://news.example.org/"


def make_settings(
    tmp_path: Path, api_base_url: str, *, storage_url: str | None = None, **telegram: Any
) -> Settings:
    """Settings for a bot talking to a fake Bot API, with its index in tmp_path and its
    database at ``storage_url`` (the `database_url` fixture), else in tmp_path."""
    values: dict[str, Any] = {"token": TOKEN, "api_base_url": api_base_url, **telegram}
    return Settings(
        index={"path": tmp_path / "index", "settle_ms": 0},
        storage={"path": tmp_path / "feedbot.sqlite3", "url": storage_url},
        feed={"base_url": BASE_URL, "title": "Test News"},
        telegram=values,
    )


class Index:
    """A folder of generated articles and an `Indexer` over it."""

    def __init__(
        self,
        folder: Path,
        store: Store,
        channels: tuple[str, ...] = (),
        publishing: Publishing | None = None,
    ) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        policy = publishing or Publishing()
        store.articles.publish_with(replace(policy, channels=tuple(channels)))
        self.indexer = Indexer(folder, store.articles, max_bytes=1 << 20, settle_ms=0)
        self._seed = 0

    def write(self, n: int, *, headed: int = 0) -> list[str]:
        """Write ``n`` new articles atomically (with at least ``headed`` headed sections); ids."""
        ids: list[str] = []
        self._seed += 1
        for name, data in generate(n * 20, seed=self._seed, start_seq=100_000 * self._seed):
            if len(ids) == n:
                break
            sections = parse(name, data).sections
            if sum(1 for s in sections if s.heading) < headed:
                continue
            tmp = self.folder / f".{name}.tmp"
            tmp.write_bytes(data)
            os.replace(tmp, self.folder / name)
            ids.append(name.removesuffix(".txt"))
        return ids

    def scan(self) -> tuple[str, ...]:
        """One scan; the ids that were queued for broadcast."""
        return self.indexer.scan().created


def assert_token_absent(
    records: list[logging.LogRecord], formatter: logging.Formatter, *, expect_records: bool = True
) -> None:
    """No captured record (message, arguments, traceback) contains the token."""
    assert records or not expect_records, "log capture saw nothing: the check proves nothing"
    secret = TOKEN.split(":")[1]
    for record in records:
        if record.name == "uvicorn.access" and "/bot" in record.getMessage():
            continue  # the fake Bot API's own access log: the token is in the path it serves
        text = formatter.format(record)
        assert secret not in text, f"token in a log record of {record.name}: {text}"


def plain(html_pieces: list[str]) -> str:
    """The text Telegram shows for some HTML messages, whitespace collapsed."""
    return " ".join(" ".join(parse_telegram_html(p)[0].split()) for p in html_pieces)
