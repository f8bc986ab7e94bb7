"""The translation catalogs: complete, consistent, and covering every string the code uses."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from feedbot.articles.i18n import (
    CATALOG_LANGUAGES,
    language_name,
    normalize_language,
    translator,
)
from feedbot.articles.summarize import DETECTABLE
from feedbot.config import TelegramSettings
from feedbot.telegram.chat.handlers import chat_language
from feedbot.telegram.render.messages import LANGUAGE_LABELS
from tests.conftest import ROOT

LOCALES = ROOT / "feedbot" / "locales"
PLACEHOLDER = re.compile(r"\{(\w*)\}")
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}


def catalog(language: str) -> Catalog:
    with (LOCALES / language / "LC_MESSAGES" / "feedbot.po").open("rb") as f:
        return read_po(f, locale=language, abort_invalid=True)


def ids(cat: Catalog) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in cat if m.id}


def placeholders(text: str | tuple[str, ...] | list[str]) -> set[str]:
    texts = [text] if isinstance(text, str) else list(text)
    return {name for t in texts for name in PLACEHOLDER.findall(t)}


def test_catalogs_have_the_same_messages() -> None:
    assert ids(catalog("en")) == ids(catalog("it"))
    assert len(ids(catalog("it"))) >= 30


@pytest.mark.parametrize("language", CATALOG_LANGUAGES)
def test_every_message_is_translated(language: str) -> None:
    untranslated = []
    for m in catalog(language):
        if not m.id:
            continue
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        if m.fuzzy or not all(s.strip() for s in strings):
            untranslated.append(m.id)
        if isinstance(m.id, str):
            assert placeholders(m.string) == placeholders(m.id), m.id
        else:
            assert placeholders(m.string) <= placeholders(m.id), m.id
    assert untranslated == []


def test_every_string_the_code_uses_is_in_the_catalogs() -> None:
    known = ids(catalog("it"))
    used = {
        (msg if isinstance(msg, str) else msg[0], f"{path}:{line}")
        for path, line, msg, *_ in extract_from_dir(
            ROOT / "feedbot", [("**.py", "python")], keywords=KEYWORDS
        )
    }
    assert used, "the extractor found nothing: is the keyword list right?"
    assert sorted(where for msg, where in used if msg not in known) == []


def test_translator() -> None:
    it = translator("it")
    assert it("Read the article") == "Leggi l'articolo"
    assert it("Language set to {language}.", language="italiano") == "Lingua impostata: italiano."
    assert it.ngettext("{n} article", "{n} articles", 1) == "1 articolo"
    assert it.ngettext("{n} article", "{n} articles", 4) == "4 articoli"
    assert translator("en")("Read the article") == "Read the article"
    assert translator("de")("Read the article") == "Read the article"  # unsupported → English


def test_catalog_languages_are_declared_once() -> None:
    """The locales folder, the /settings buttons and the config's choices follow one list."""
    assert sorted(CATALOG_LANGUAGES) == sorted(p.name for p in LOCALES.iterdir() if p.is_dir())
    assert tuple(LANGUAGE_LABELS) == CATALOG_LANGUAGES
    field = TelegramSettings.model_fields["default_language"]
    assert get_args(field.annotation) == CATALOG_LANGUAGES
    assert not set(CATALOG_LANGUAGES) - DETECTABLE  # articles in our own languages are recognised


@pytest.mark.parametrize(
    ("stored", "user", "expected"),
    [
        ("it", "en", "it"),
        (None, "it-IT", "it"),
        (None, "it_CH", "it"),
        ("xx", "de", "en"),
        (None, None, "en"),
    ],
)
def test_chat_language(stored: str | None, user: str | None, expected: str) -> None:
    assert chat_language(stored, user, "en") == expected


@pytest.mark.parametrize(
    ("code", "expected"),
    [("it", "it"), ("it-IT", "it"), ("EN_us", "en"), ("de", "en"), (None, "en")],
)
def test_normalize_language(code: str | None, expected: str) -> None:
    assert normalize_language(code) == expected


def test_language_names() -> None:
    assert language_name("it", "en") == "Italian"
    assert language_name("en", "it") == "inglese"


def test_po_files_are_text_only() -> None:
    assert not list(Path(LOCALES).rglob("*.mo"))
