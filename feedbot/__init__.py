"""feedbot: turn a folder of dated news articles into a publication.

An Atom/RSS/JSON feed with HTML pages, and a Telegram bot that posts each new
article as a headline with per-section summaries.
"""

import sys
from importlib.metadata import PackageNotFoundError, version

# Two extras of our dependencies that feedbot never uses would load rich and pygments,
# about 7 MB of every daemon's memory: httpx's command-line client (`httpx._main`,
# imported with httpx) and the highlighted error pages of mako, the template engine of
# alembic. Both packages do without them when they cannot be imported.
for _unused in ("httpx._main", "mako.ext.pygmentplugin"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

try:
    __version__ = version("feedbot")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["__version__"]
