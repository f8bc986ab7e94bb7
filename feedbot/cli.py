"""The command line: thin commands that load settings, call in, print, exit.

Exit codes: 0 success, 1 the work found problems (e.g. bad articles), 2 the
command could not run (bad config, unreadable index, port in use).
"""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click

from feedbot import __version__
from feedbot.articles.model import Article, article_to_dict, scheduled
from feedbot.config import Settings, load_settings
from feedbot.errors import FeedbotError

__all__ = ["main"]


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one clear error line and exit."""
    click.echo(f"feedbot: error: {message}", err=True)
    sys.exit(code)


def settings_from(ctx: click.Context) -> Settings:
    """The settings for this invocation, loaded once; config errors exit 2."""
    obj: dict[str, object] = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config_path"))  # type: ignore[arg-type]
        except FeedbotError as e:
            fail(str(e))
    settings = obj["settings"]
    assert isinstance(settings, Settings)
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="feedbot")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="FEEDBOT_CONFIG",
    help="TOML config file (default: config/feedbot.toml; env FEEDBOT_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """feedbot: turn a folder of dated news articles into feeds and Telegram posts."""
    ctx.ensure_object(dict)["config_path"] = config_path


def _memory_site(settings: Settings) -> tuple[object, int]:
    """The index as it is now as a `Site`, and how many bad files were warned about."""
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
    return Site(MemorySource([Entry.of(a) for a in due]), settings), len(errors)


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
    app = create_app(site, settings)
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
    from feedbot.playground import playground_component
    from feedbot.runtime import startup as process
    from feedbot.runtime.logs import setup_logging
    from feedbot.telegram.assemble import telegram_component

    settings = settings_from(ctx)
    token = settings.telegram.token
    secrets = [token.get_secret_value()] if token is not None else []
    setup_logging(settings.log.level, settings.log.format, secrets=secrets + _db_password(settings))
    try:
        process.run(
            settings,
            components=[telegram_component, playground_component],
            baseline=baseline,
            reload=lambda: load_settings(ctx.obj.get("config_path")),
        )
    except FeedbotError as e:
        fail(str(e))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.pass_context
def check(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Parse every article file in PATHS (default: the configured index) and report bad ones.

    Folders expand to their article files. Prints `path:line: message` for each
    bad file and a one-line total. Exit 0 when all are good, 1 otherwise, 2 when
    a path does not exist.
    """
    from feedbot.errors import ArticleError
    from feedbot.ingest.files import list_article_files, read_article

    settings = settings_from(ctx)
    targets = list(paths) or [settings.index.path]
    missing = [str(p) for p in targets if not p.exists()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    files: list[tuple[Path, Path | None]] = []  # (file, the folder it was found in)
    try:
        for target in targets:
            if target.is_dir():
                files += [(p, target) for p in list_article_files(target)]
            else:
                files.append((target, None))
    except ArticleError as e:
        fail(str(e))
    bad = 0
    now = datetime.now(UTC)
    for path, folder in files:
        try:
            # a file in a folder follows the index's rules; one named, its link
            parsed = read_article(
                path,
                max_bytes=settings.index.max_file_bytes,
                follow_symlinks=folder is None or settings.index.follow_symlinks,
                within=folder,
            )
        except ArticleError as e:
            bad += 1
            click.echo(str(e))
            continue
        if scheduled(parsed, now):
            click.echo(f"{path}: scheduled for {parsed.date.isoformat()}")
    noun = "file" if len(files) == 1 else "files"
    click.echo(f"{len(files)} article {noun} checked: {len(files) - bad} good, {bad} bad")
    sys.exit(1 if bad else 0)


def _outline(article: Article) -> list[tuple[str, str]]:
    """`feedbot show` lines as (rich style, text)."""
    date = article.date
    lines = [
        ("bold", article.headline),
        (
            "dim",
            f"{article.id}  date {date.isoformat()} ({date.precision})  "
            f"language {article.language}  seq {article.seq}",
        ),
    ]
    if scheduled(article, datetime.now(UTC)):
        lines.append(("yellow", f"scheduled for {date.isoformat()}: not published before then"))
    for number, section in enumerate(article.sections):
        lines.append(("", ""))
        title = section.heading if section.heading is not None else "(lead)"
        lines.append(("bold cyan", f"§{number} {title}"))
        lines.append(("green", f"  summary: {section.summary}"))
        for block in section.blocks:
            lines.append(("", f"  [{block.kind}] line {block.line}: {block.text}"))
    return lines


@cli.command()
@click.argument("article")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
@click.pass_context
def show(ctx: click.Context, article: str, as_json: bool) -> None:
    """Show ARTICLE (a file, or an id looked up in the index folder) parsed and summarised.

    `--json` prints {id, seq, date, date_precision, headline, language, sections:
    [{heading (null for the lead), summary, blocks: [{kind, text, line}]}]}.
    """
    import json

    settings = settings_from(ctx)
    parsed = _read(settings, article)
    if as_json:
        click.echo(json.dumps(article_to_dict(parsed), ensure_ascii=False, indent=2))
        return
    lines = _outline(parsed)
    if sys.stdout.isatty():
        from rich.console import Console
        from rich.text import Text

        console = Console()
        for style, text in lines:
            console.print(Text(text, style=style))
    else:
        for _, text in lines:
            click.echo(text)


def _read(settings: Settings, article: str) -> Article:
    """ARTICLE as a file, or an id looked up in the index folder; parsed (or exit)."""
    from feedbot.errors import ArticleError
    from feedbot.ingest.files import read_article

    path = Path(article)
    if not path.is_file():
        path = settings.index.path / f"{article.removesuffix('.txt')}.txt"
        if "/" in article or "\\" in article or not path.is_file():
            fail(f"no article file or id {article!r} (looked in {settings.index.path})")
    try:
        return read_article(path, max_bytes=settings.index.max_file_bytes)
    except ArticleError as e:
        fail(str(e), code=1)


@cli.command()
@click.argument("article")
@click.option("--lang", "language", type=click.Choice(["en", "it"]), help="The chat's language.")
@click.option(
    "--style",
    type=click.Choice(["full", "compact", "headlines"]),
    default="full",
    show_default=True,
    help="The subscription's post style.",
)
@click.option("--html", "raw", is_flag=True, help="Print the raw Telegram HTML of each message.")
@click.pass_context
def preview(ctx: click.Context, article: str, language: str | None, style: str, raw: bool) -> None:
    """Print the post for ARTICLE (a file or an id) as Telegram will show it, with
    telegram.template, button and link_preview applied: try a template without a bot."""
    from feedbot.articles.i18n import translator
    from feedbot.articles.model import Entry
    from feedbot.telegram.render.preview import terminal_pieces
    from feedbot.telegram.render.send_options import PostShape

    settings = settings_from(ctx)
    tg = settings.telegram
    language = language or tg.default_language
    try:
        shape = PostShape(settings)
        shape.check()
    except FeedbotError as e:
        fail(str(e))
    pieces = shape.post(Entry.of(_read(settings, article)), language, style)
    if raw:
        click.echo("\n\n".join(f"<!-- message {n} -->\n{p}" for n, p in enumerate(pieces, 1)))
        return
    button = translator(language)("Read the article") if tg.button != "off" else None
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for text in terminal_pieces(pieces, button):
        console.print(text)
        console.print()


def _db_password(settings: Settings) -> list[str]:
    """The password in storage.url, for the log filter to hide wherever it turns up."""
    from feedbot.store.urls import url_password

    if settings.storage.url is None:
        return []
    password = url_password(settings.storage.url)
    return [password] if password else []


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


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="feedbot")
