"""`feedbot check`, `show` and `preview`: one article or the index, as feedbot reads it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from feedbot.articles.model import Article, article_to_dict, scheduled
from feedbot.cli.base import cli, fail, settings_from
from feedbot.config import Settings
from feedbot.errors import FeedbotError

__all__ = ["check", "preview", "show"]


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
    from feedbot.telegram.assemble import post_shape
    from feedbot.telegram.render.preview import terminal_pieces

    settings = settings_from(ctx)
    tg = settings.telegram
    language = language or tg.default_language
    try:
        shape = post_shape(settings)
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
