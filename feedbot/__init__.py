"""feedbot: turn a folder of dated news articles into a publication.

An Atom/RSS/JSON feed with HTML pages, and a Telegram bot that posts each new
article as a headline with per-section summaries.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("feedbot")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["__version__"]
