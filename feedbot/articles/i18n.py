"""Translations: gettext catalogs read with Babel, and language names (dates: `articles.dates`).

The catalogs are the ``.po`` files under ``feedbot/locales/<lang>/LC_MESSAGES/``,
compiled in memory on first use; English is the source language, so its catalog
mostly repeats the msgids. Messages use ``str.format`` placeholders::

    _ = translator("it")
    _("Read the article")                      # "Leggi l'articolo"
    _("Language set to {language}.", language="italiano")
    _.ngettext("The latest article", "The {n} latest articles", 3)
"""

from __future__ import annotations

import io
from functools import cache
from importlib import resources
from typing import Final, Literal, get_args

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

__all__ = [
    "CATALOG_LANGUAGES",
    "DOMAIN",
    "N_",
    "CatalogLanguage",
    "Translator",
    "language_name",
    "load_translations",
    "normalize_language",
    "translator",
]

DOMAIN: Final = "feedbot"
#: The languages feedbot speaks, declared once: one catalog each under ``locales/`` (a test
#: checks the folder). Not the languages `summarize.DETECTABLE` can recognise in an article.
CatalogLanguage = Literal["en", "it"]
CATALOG_LANGUAGES: Final[tuple[CatalogLanguage, ...]] = get_args(CatalogLanguage)


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; translate it where it is used."""
    return message


def normalize_language(code: str | None, default: str = "en") -> str:
    """``"it-IT"`` → ``"it"``; anything unsupported (or None) → ``default``."""
    if code:
        base = code.replace("_", "-").split("-", 1)[0].lower()
        if base in CATALOG_LANGUAGES:
            return base
    return default


@cache
def load_translations(language: str) -> Translations:
    """Compile ``locales/<language>/LC_MESSAGES/feedbot.po`` into gettext translations."""
    po = resources.files("feedbot") / "locales" / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po.open("rb") as f:
        catalog = read_po(f, locale=language, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


class Translator:
    """gettext and ngettext for one language, with ``str.format`` parameters."""

    __slots__ = ("_t", "language")

    def __init__(self, language: str) -> None:
        self.language = normalize_language(language)
        self._t = load_translations(self.language)

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._t.gettext(message)
        return text.format(**params) if params else text

    gettext = __call__

    def ngettext(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        """The plural form for ``n``; ``{n}`` is available in the message."""
        return self._t.ngettext(singular, plural, n).format(n=n, **params)


@cache
def translator(language: str) -> Translator:
    """The translator for ``language`` (``en``/``it``; anything else → English)."""
    return Translator(language)


def _locale(language: str) -> Locale:
    return Locale.parse(normalize_language(language))


def language_name(code: str, language: str) -> str:
    """The name of language ``code`` in ``language``: ("it", "en") → ``Italian``."""
    return Locale.parse(code).get_display_name(_locale(language)) or code
