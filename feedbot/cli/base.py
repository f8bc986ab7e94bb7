"""The command line's frame: the `cli` group, its settings and its one-line errors.

Exit codes: 0 success, 1 the work found problems (e.g. bad articles), 2 the
command could not run (bad config, unreadable index, port in use).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from feedbot import __version__
from feedbot.config import Settings, load_settings
from feedbot.errors import FeedbotError

__all__ = ["cli", "db_secrets", "fail", "settings_from"]


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


def db_secrets(settings: Settings) -> list[str]:
    """The password in storage.url, for the log filter to hide wherever it turns up."""
    from feedbot.store.urls import url_password

    if settings.storage.url is None:
        return []
    password = url_password(settings.storage.url)
    return [password] if password else []
