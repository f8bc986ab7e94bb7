"""Article file names and ids: which names are articles, which can be published, and an
id as it appears in a URL — pure."""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = [
    "MAX_ID_URL_CHARS",
    "MAX_SEQ_DIGITS",
    "id_in_url",
    "is_article_name",
    "name_problem",
    "sequence_number",
]

# The longest id, percent-encoded as in its page's URL, that can be published: the page
# route (`feedbot.publish.site`) accepts exactly this, and the indexer refuses longer ones.
MAX_ID_URL_CHARS = 200
# The leading number of a file name orders articles within a date and is stored as a
# 64-bit integer: 18 digits always fit (a timestamp such as 20260301120000 has 14).
MAX_SEQ_DIGITS = 18
_SEQ = re.compile(r"\d+")
_TEMP_SUFFIXES = (".tmp", ".part", "~", ".swp")


def is_article_name(name: str) -> bool:
    """Whether a file name (not a path) is an article: ``*.txt``, no dotfile, no temp file."""
    return name.endswith(".txt") and not name.startswith(".") and not name.endswith(_TEMP_SUFFIXES)


def id_in_url(article_id: str) -> str:
    """An id as it appears in a URL: percent-encoded except for ``A-Za-z0-9-_.~``."""
    return quote(article_id, safe="-_.~")


def name_problem(name: str) -> str | None:
    """Why an article file name (see `is_article_name`) cannot be published, or None.

    The name must be UTF-8 (``os.fsdecode`` keeps other bytes as surrogates) and
    without a backslash, its id (the name less ``.txt``) must fit in a page URL, and
    its leading number (the sequence number) must have at most `MAX_SEQ_DIGITS` digits.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "file name is not valid UTF-8"
    if "\\" in name:
        return "file name contains a backslash"
    length = len(id_in_url(name.removesuffix(".txt")))
    if length > MAX_ID_URL_CHARS:
        return (
            f"the id takes {length} characters in a URL, over the limit of {MAX_ID_URL_CHARS}; "
            "use a shorter file name"
        )
    if sequence_number(name.removesuffix(".txt")) is None:
        return f"sequence number too large (at most {MAX_SEQ_DIGITS} digits)"
    return None


def sequence_number(stem: str) -> int | None:
    """The leading number of a file stem (0 when it has none), or None when it has more
    than `MAX_SEQ_DIGITS` significant digits and so cannot be stored."""
    m = _SEQ.match(stem)
    if m is None:
        return 0
    if len(m[0].lstrip("0")) > MAX_SEQ_DIGITS:
        return None  # leading zeros do not count
    return int(m[0])
