"""`feedbot run`, `serve` and `build`: the daemon, the site alone, the static export."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from feedbot.articles.model import scheduled
from feedbot.cli.base import cli, db_secrets, fail, settings_from
from feedbot.config import Settings, load_settings
from feedbot.errors import FeedbotError

__all__ = ["build", "run", "serve"]


def _memory_site(settings: Settings) -> tuple[object, int]:
    """The index as it is now as a `Site`, and how many bad files were warned about.
    No search box on its pages: searching needs the daemon's database."""
    from feedbot.articles.model import Entry
    from feedbot.ingest.files import load_folder
    from feedbot.publish.site import MemorySource, Site

    try:
        articles, errors = load_folder(
            settings.index.path,
            max_bytes=settings.index.max_file_bytes,
            follow_symlinks=settings.index.follow_symlinks,
        )
    except FeedbotError as e:
        fail(str(e))
    except OSError as e:
        fail(f"{settings.index.path}: cannot read the index: {e.strerror}")
    for error in errors:
        click.echo(f"feedbot: warning: {error}", err=True)
    now = datetime.now(UTC)
    due = [a for a in articles if not scheduled(a, now)]
    if len(due) < len(articles):
        waiting = len(articles) - len(due)
        click.echo(f"feedbot: {waiting} scheduled article(s) left out until their date", err=True)
    return Site(MemorySource([Entry.of(a) for a in due]), settings.feed, search=False), len(errors)


@cli.command()
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the site to (created if missing).",
)
@click.pass_context
def build(ctx: click.Context, out: Path) -> None:
    """Write the feeds, archives and HTML pages to a folder for any static host.

    Unchanged files are not rewritten; stale article pages are removed. Exit 1
    when some article files were bad (and skipped).
    """
    from feedbot.publish.build import export
    from feedbot.publish.site import Site

    settings = settings_from(ctx)
    site, bad = _memory_site(settings)
    assert isinstance(site, Site)
    try:
        report = export(site, out, progress=None)
    except FeedbotError as e:
        fail(str(e))
    click.echo(
        f"feedbot: built {report.total} files in {out} ({report.written} written, "
        f"{report.unchanged} unchanged, {report.removed} removed)",
        err=True,
    )
    click.echo(
        "feedbot: search is left out: a static site has no server to answer /search "
        "(`feedbot run` serves it)",
        err=True,
    )
    if bad:
        sys.exit(1)


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: http.host).")
@click.option("--port", default=None, type=int, help="TCP port (default: http.port; 0 = any).")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the feeds and pages of the index as it is at start (Ctrl-C stops)."""
    import asyncio

    from feedbot.http.app import create_app
    from feedbot.http.guard import http_limits
    from feedbot.http.server import bind_server, loop_factory
    from feedbot.publish.site import Site

    settings = settings_from(ctx)
    site, _ = _memory_site(settings)
    assert isinstance(site, Site)
    app = create_app(site, settings.http)
    try:
        server = bind_server(
            app,
            host or settings.http.host,
            settings.http.port if port is None else port,
            handle_signals=True,
            limits=http_limits(settings.http.header_timeout, settings.http.max_connections),
        )
    except FeedbotError as e:
        fail(str(e))
    click.echo(
        f"feedbot: serving {site.source.count()} articles at {server.url} (Ctrl-C stops)",
        err=True,
    )
    with (
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=loop_factory()) as runner,
    ):
        runner.run(server.serve())


@cli.command()
@click.option(
    "--baseline",
    is_flag=True,
    help="Accept a new database although one existed here: the articles already in the "
    "index are taken as posted (no post goes out for them).",
)
@click.pass_context
def run(ctx: click.Context, baseline: bool) -> None:
    """Run the daemon: watch the index, keep the store current, serve feeds and pages.

    SIGTERM or Ctrl-C stops cleanly (a second one exits at once); SIGHUP re-reads
    the configuration. Exit 2 when the index cannot be read, the database cannot
    be opened or written, is damaged or in use by another feedbot, or the port is
    in use.
    """
    from feedbot.app import run as run_daemon
    from feedbot.playground import playground_component
    from feedbot.runtime.logs import setup_logging
    from feedbot.telegram.assemble import telegram_component

    settings = settings_from(ctx)
    token = settings.telegram.token
    secrets = [token.get_secret_value()] if token is not None else []
    setup_logging(settings.log.level, settings.log.format, secrets=secrets + db_secrets(settings))
    try:
        run_daemon(
            settings,
            components=[telegram_component, playground_component],
            baseline=baseline,
            reload=lambda: load_settings(ctx.obj.get("config_path")),
        )
    except FeedbotError as e:
        fail(str(e))
