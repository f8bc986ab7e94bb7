"""Only the telegram side of the composition root sees the whole settings model: every
other telegram module gets its own section or a small dataclass of what it reads."""

from __future__ import annotations

import ast
from pathlib import Path

import feedbot.telegram

TELEGRAM = Path(feedbot.telegram.__file__).parent
SEES_ALL = {"assemble.py"}  # builds every part from `Settings`


def imports_settings(module: Path) -> bool:
    """``module`` imports `feedbot.config.Settings` (or the whole config module)."""
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names = {alias.name for alias in node.names}
            if node.module == "feedbot.config" and names & {"Settings", "*"}:
                return True
            if node.module == "feedbot" and "config" in names:
                return True
        if isinstance(node, ast.Import) and any(a.name == "feedbot.config" for a in node.names):
            return True
    return False


def test_only_assemble_sees_the_whole_settings() -> None:
    modules = sorted(TELEGRAM.rglob("*.py"))
    assert len(modules) > 20  # the walk found the package
    seeing = {str(m.relative_to(TELEGRAM)) for m in modules if imports_settings(m)}
    assert seeing == SEES_ALL
