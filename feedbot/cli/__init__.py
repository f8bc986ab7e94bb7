"""The command line: thin commands that load settings, call in, print, exit.

The `cli` group and its helpers are in `feedbot.cli.base`; the commands, by what
they are for, in `articles` (check, show, preview), `serving` (run, serve, build)
and `database` (migrate, copy-db, config-docs). Exit codes: 0 success, 1 the work
found problems (e.g. bad articles), 2 the command could not run.
"""

from __future__ import annotations

from feedbot.cli import articles, database, serving
from feedbot.cli.base import cli

__all__ = ["cli", "main"]

_COMMANDS = (articles, database, serving)  # imported for their @cli.command registrations


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="feedbot")
