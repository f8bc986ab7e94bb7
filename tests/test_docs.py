"""The docs name only code that exists: every backticked ``feedbot/…`` (or ``tests/…``,
``docs/…``) path and ``feedbot.x.y`` name in README.md and docs/*.md, and every module in
the README's architecture diagram."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
PATH = re.compile(r"(?:feedbot|tests|docs)/[\w/*.-]*")
DOTTED = re.compile(r"feedbot(?:\.[A-Za-z_]\w*)+(?:\(\))?")
# ``feedbot.toml`` and the like are file names, not dotted names.
FILE_SUFFIXES = {"toml", "sqlite3", "lock", "json", "md", "txt", "log", "yml", "yaml"}
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
DIAGRAM_MODULE = re.compile(r"(?<![\w/])[a-z_/]*[a-z_]\.py\b")


def spans(doc: Path) -> list[str]:
    text = FENCE.sub("", doc.read_text(encoding="utf-8"))
    return [m.group(1).strip() for m in SPAN.finditer(text)]


def cited_paths(doc: Path) -> list[str]:
    return [s for s in spans(doc) if PATH.fullmatch(s)]


def cited_names(doc: Path) -> list[str]:
    names = [s.removesuffix("()") for s in spans(doc) if DOTTED.fullmatch(s)]
    return [n for n in names if n.rsplit(".", 1)[-1] not in FILE_SUFFIXES]


def resolve(name: str) -> object:
    """The module or attribute ``name`` denotes: the longest importable prefix, then getattr."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            found = getattr(found, attr)  # AttributeError names what is missing
        return found
    raise ModuleNotFoundError(name)


def test_the_docs_cite_code_at_all() -> None:
    """Guards the extraction itself: the architecture page cites paths and names."""
    architecture = ROOT / "docs" / "architecture.md"
    assert len(cited_paths(architecture)) > 20
    assert len(cited_names(architecture)) > 20
    assert "feedbot.toml" not in cited_names(ROOT / "README.md")  # a file name, not a module


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_cited_paths_exist(doc: Path) -> None:
    missing = []
    for cited in cited_paths(doc):
        matches = list(ROOT.glob(cited.rstrip("/"))) if "*" in cited else [ROOT / cited]
        if not matches or not all(p.exists() for p in matches):
            missing.append(cited)
    assert missing == [], f"{doc.name} cites paths that do not exist"


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_cited_names_exist(doc: Path) -> None:
    missing = []
    for name in cited_names(doc):
        try:
            resolve(name)
        except (ImportError, AttributeError):
            missing.append(name)
    assert missing == [], f"{doc.name} cites names that do not exist"


def test_readme_diagram_names_real_modules() -> None:
    """Each ``room/x.py`` in the README's diagram is that file under feedbot/, and each bare
    ``x.py`` is a module of that name somewhere under feedbot/."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    diagrams = [b for b in FENCE.findall(readme) if "──▶" in b]
    assert diagrams, "the README has no architecture diagram"
    modules = {p.name for p in (ROOT / "feedbot").rglob("*.py")}
    named = {m for block in diagrams for m in DIAGRAM_MODULE.findall(block)}
    assert len(named) > 10, "the diagram names hardly any module"
    missing = {
        m for m in named if not ((ROOT / "feedbot" / m).is_file() if "/" in m else m in modules)
    }
    assert missing == set()
