"""`feedbot migrate`, `copy-db` and `config-docs`: the database and the configuration reference."""

from __future__ import annotations

import sys

import click

from feedbot.cli.base import cli, fail, settings_from
from feedbot.errors import FeedbotError

__all__ = ["config_docs", "copy_db", "migrate"]


@cli.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Bring the database (storage.url, else storage.path) to this feedbot's schema and exit.

    `feedbot run` migrates on start too; run this first to upgrade at a moment you
    choose. Exit 2 when the database cannot be opened or is newer than this feedbot.
    """
    from feedbot.store import Database

    storage = settings_from(ctx).storage
    try:
        before = Database.stored_version(storage.path, url=storage.url)
        db = Database.open(storage.path, url=storage.url)
        try:
            after = db.schema_version()
        finally:
            db.close()
    except FeedbotError as e:
        fail(str(e))
    if before == after:
        click.echo(f"feedbot: {db.name} is up to date (schema {after})", err=True)
    else:
        start = "nothing" if before is None else f"schema {before}"
        click.echo(f"feedbot: migrated {db.name} from {start} to schema {after}", err=True)


@cli.command("copy-db")
@click.option("--from", "source", required=True, help="Database URL, or a SQLite file's path.")
@click.option("--to", "target", required=True, help="Database URL, or a SQLite file's path.")
@click.option("--force", is_flag=True, help="Replace what the target holds (else refused).")
@click.option(
    "--live",
    is_flag=True,
    help="Copy a source that a running feedbot uses (else refused): posts it sends after "
    "the copy go out again from the copy.",
)
def copy_db(source: str, target: str, force: bool, live: bool) -> None:
    """Copy articles, chats, the delivery ledger and state into another database.

    For example from the SQLite file to PostgreSQL (postgresql+psycopg://user:pw@host/db).
    Both are migrated to this feedbot's schema first. The target is written in one
    transaction; it must be empty unless --force. Stop the daemon first: a database a
    running feedbot uses is refused (exit 2), the source unless --live.
    """
    from feedbot.progress import table_progress
    from feedbot.store.copyguard import copy_locations

    def warn(message: str) -> None:
        click.echo(f"feedbot: warning: {message}", err=True)

    try:
        with table_progress(sys.stderr, "copying") as progress:
            report, names = copy_locations(
                source, target, force=force, live=live, warn=warn, progress=progress
            )
    except FeedbotError as e:
        fail(str(e))
    rows = ", ".join(f"{n} {table}" for table, n in report.rows.items())
    replaced = f" (replaced {report.replaced} rows)" if report.replaced else ""
    click.echo(f"feedbot: copied {rows} from {names[0]} to {names[1]}{replaced}", err=True)


@cli.command("config-docs")
def config_docs() -> None:
    """Print the configuration reference (Markdown) generated from the settings model.

    `feedbot config-docs > docs/configuration.md` regenerates the committed copy.
    """
    from feedbot.configdoc import render_config_reference

    click.echo(render_config_reference(), nl=False)
