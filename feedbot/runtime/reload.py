"""SIGHUP: which settings changed, which of them can be applied to a running daemon.

`changed_keys` and `merge_live` are pure: two `Settings` in, the changed keys and a
merged `Settings` out. `apply_live` applies the live keys (`LIVE`) to the running
parts and keeps every other value as it was at start, so nothing that needs a
restart half-applies. A `Reloader`, built by the composition root, holds the settings
in force: the daemon calls it on SIGHUP and gets back the index section now in force.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from feedbot.config import IndexSettings, Settings
from feedbot.errors import FeedbotError

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

    from feedbot.runtime.components import Component
    from feedbot.store import Articles

__all__ = ["LIVE", "RATE_KEYS", "Reloader", "apply_live", "changed_keys", "merge_live"]

log = logging.getLogger("feedbot.daemon")

RATE_KEYS = frozenset(
    {
        "telegram.global_rate",
        "telegram.chat_rate",
        "telegram.group_rate_per_minute",
        "telegram.paid_global_rate",
    }
)
LIVE = frozenset({"log.level", "index.scan_interval", "telegram.channels"}) | RATE_KEYS
_SECTIONS = ("index", "feed", "http", "storage", "log", "telegram")


def _value(section: Any, key: str) -> Any:
    value = getattr(section, key)
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def changed_keys(old: Settings, new: Settings) -> list[str]:
    """``section.key`` of every setting whose value differs, in model order."""
    keys = []
    for name in _SECTIONS:
        before, after = getattr(old, name), getattr(new, name)
        for key in type(before).model_fields:
            if _value(before, key) != _value(after, key):
                keys.append(f"{name}.{key}")
    return keys


def merge_live(old: Settings, new: Settings, keys: Sequence[str]) -> Settings:
    """``old`` with the ``keys`` (``section.key``) taken from ``new``."""
    updates: dict[str, dict[str, Any]] = {}
    for dotted in keys:
        name, key = dotted.split(".", 1)
        updates.setdefault(name, {})[key] = getattr(getattr(new, name), key)
    sections = {
        name: getattr(old, name).model_copy(update=values) for name, values in updates.items()
    }
    return old.model_copy(update=sections)


def apply_live(
    current: Settings,
    new: Settings,
    scheduler: AsyncIOScheduler | None,
    articles: Articles,
    components: Sequence[Component],
) -> Settings:
    """Apply what changed from ``current`` to ``new`` that can change while running, log
    what was applied and what needs a restart; the settings now in force."""
    keys = changed_keys(current, new)
    live = [k for k in keys if k in LIVE]
    later = [k for k in keys if k not in LIVE]
    settings = merge_live(current, new, live)
    if "log.level" in live:
        logging.getLogger().setLevel(new.log.level)
    if "index.scan_interval" in live and scheduler is not None:
        scheduler.reschedule_job("scan", trigger="interval", seconds=new.index.scan_interval)
    if "telegram.channels" in live:
        channels = tuple(new.telegram.channels)
        articles.publish_with(replace(articles.publishing, channels=channels))
    if any(k in RATE_KEYS for k in live):
        for component in components:
            component.reconfigure(settings)
    log.info(
        "SIGHUP: configuration re-read; applied: %s; needs a restart: %s",
        ", ".join(live) or "nothing changed",
        ", ".join(later) or "nothing",
    )
    return settings


class Reloader:
    """SIGHUP for a running daemon: re-read the settings with ``read`` and apply what can
    change while running (`apply_live`); the settings in force stay here."""

    def __init__(
        self,
        current: Settings,
        read: Callable[[], Settings],
        articles: Articles,
        components: Sequence[Component],
    ) -> None:
        self._current = current
        self._read = read
        self._articles = articles
        self._components = components

    def __call__(self, scheduler: AsyncIOScheduler | None) -> IndexSettings:
        """Re-read and apply; the index section in force (the old settings stay when the
        new ones cannot be read)."""
        try:
            new = self._read()
        except FeedbotError as e:
            log.error("SIGHUP: configuration not applied, the old one stays: %s", e)
            return self._current.index
        self._current = apply_live(self._current, new, scheduler, self._articles, self._components)
        return self._current.index
