"""SIGHUP: which settings changed, which of them can be applied to a running daemon.

Pure: two `Settings` in, the changed keys and a merged `Settings` out. The daemon
applies the live keys (`LIVE`) and keeps every other value as it was at start, so
nothing that needs a restart half-applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from feedbot.config import Settings

__all__ = ["LIVE", "RATE_KEYS", "changed_keys", "merge_live"]

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
