"""The one settings model: a TOML file plus ``FEEDBOT_<SECTION>__<KEY>`` overrides.

Every key has a default and a description (``Field(description=...)``); the
configuration reference in ``docs/configuration.md`` is generated from this
module and a test fails when the two drift apart.

Precedence, highest first: environment variables, the TOML file, the defaults.
Relative paths are taken relative to the working directory.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from feedbot.articles.i18n import CatalogLanguage
from feedbot.errors import ConfigError
from feedbot.telegram.schedule import ScheduleError, timezone

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ClusterSettings",
    "FeedSettings",
    "HttpSettings",
    "IndexSettings",
    "LogSettings",
    "PlaygroundSettings",
    "Settings",
    "StorageSettings",
    "TelegramSettings",
    "load_settings",
]

DEFAULT_CONFIG_PATH = Path("config/feedbot.toml")
MiB = 1024 * 1024
RHASH = re.compile(r"[0-9a-f]{8,32}")  # an Instant View template's hash


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IndexSettings(_Section):
    """The seeds index: the folder of article files."""

    path: Path = Field(Path("seeds"), description="Folder of article files (`NNN_id.txt`).")
    max_file_bytes: int = Field(
        MiB, gt=0, description="Article files larger than this are reported as bad and skipped."
    )
    scan_interval: float = Field(
        60.0, gt=0, description="Seconds between full re-scans of the index (a safety net)."
    )
    follow_symlinks: bool = Field(
        False,
        description="Read symbolic links in the folder, and then only those whose target lies "
        "inside it; when false a link is reported as a bad file and never opened.",
    )
    watch: bool = Field(True, description="Watch the folder for changes for sub-second pickup.")
    settle_ms: int = Field(
        500,
        ge=0,
        description="A file whose size or mtime changed within this many milliseconds is "
        "still being written and is picked up on a later pass (with the watcher on, a file "
        "its writer has not closed waits for the close instead: `open_write_timeout`).",
    )
    open_write_timeout: float = Field(
        600.0,
        gt=0,
        description="With the watcher on (inotify, Linux), a file created or written and not "
        "yet closed by its writer nor renamed in is not read, however long the writer pauses; "
        "after this many seconds with no write and no close it is read as it is, with a "
        "warning. Without inotify `settle_ms` alone decides.",
    )


class FeedSettings(_Section):
    """What the feeds and pages say about the publication."""

    base_url: str = Field(
        "http://127.0.0.1:8080/",
        description="Absolute URL the site is reached at; every absolute link starts with it.",
    )
    id_authority: str = Field(
        "feedbot.example,2026",
        description="Tag URI authority (RFC 4151, `domain,date`) for feed and entry ids. "
        "Never derived from `base_url`, so moving the site keeps ids stable.",
    )
    title: str = Field("feedbot", description="Feed and site title.")
    subtitle: str = Field(
        "Articles from the feedbot index", description="Feed subtitle and site tagline."
    )
    author_name: str = Field("feedbot", description="Author put on the feed and on every entry.")
    author_email: str | None = Field(None, description="Author e-mail, if any.")
    language: str = Field(
        "en", description="Language of the publication (ISO 639-1), used for `xml:lang`."
    )
    max_entries: int = Field(
        50, gt=0, description="Entries in the main feed document; older ones go to archives."
    )
    websub_hub: str | None = Field(
        None, description="WebSub hub URL; when set, feeds link to it and every publish pings it."
    )


class HttpSettings(_Section):
    """The built-in web server."""

    host: str = Field("127.0.0.1", description="Address to listen on (`0.0.0.0` in a container).")
    port: int = Field(8080, ge=0, le=65535, description="TCP port to listen on.")
    cache_max_age: int = Field(
        300, ge=0, description="`Cache-Control: max-age` in seconds for feeds and pages."
    )
    header_timeout: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request line and headers; then 408 and "
        "the connection is closed.",
    )
    max_connections: int = Field(
        1000,
        gt=0,
        description="HTTP connections open at once; more are answered 503 and closed. Capped "
        "below the open-file limit so descriptors stay free for the database and the index.",
    )


class StorageSettings(_Section):
    """The database."""

    path: Path = Field(
        Path("var/feedbot.sqlite3"), description="SQLite database file (when `url` is not set)."
    )
    url: str | None = Field(
        None,
        description="SQLAlchemy URL of a shared database, e.g. "
        "`postgresql+psycopg://feedbot:secret@db/feedbot` (replicas need PostgreSQL). "
        "Unset: the SQLite file at `path`. The password is never logged.",
    )


class ClusterSettings(_Section):
    """Several replicas on one PostgreSQL database: the leader lease. (On SQLite the one
    daemon is always the leader and these do nothing.)"""

    replica_name: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="This replica's name in the lease, `/healthz` and logs. Unset: host name "
        "and process id (`web-1-4242`). Give every replica a different one: a replica whose "
        "name another live replica holds is refused at start (exit 2).",
    )
    lease_seconds: float = Field(
        6.0,
        gt=0,
        description="How long the leader's lease lasts without renewal: a leader that dies "
        "or hangs is replaced after at most this long (plus `renew_interval`).",
    )
    renew_interval: float = Field(
        2.0,
        gt=0,
        description="Seconds between lease renewals by the leader (and take-over attempts by "
        "the others); must be under half of `lease_seconds`.",
    )
    version_check_interval: float = Field(
        5.0,
        gt=0,
        description="Seconds between checks that no change notification from the leader was "
        "missed (followers pick changes up within a second through LISTEN/NOTIFY).",
    )

    @model_validator(mode="after")
    def _renew_in_time(self) -> ClusterSettings:
        if self.renew_interval * 2 > self.lease_seconds:
            raise ValueError("cluster.renew_interval must be at most half of cluster.lease_seconds")
        return self


class LogSettings(_Section):
    """Logging to stderr."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level that is logged."
    )
    format: Literal["text", "json"] = Field("text", description="`text` or one JSON object a line.")


class TelegramSettings(_Section):
    """The Telegram bot. With no token the bot is off and the feed side still runs."""

    token: SecretStr | None = Field(
        None, description="Bot token from @BotFather; set it with FEEDBOT_TELEGRAM__TOKEN."
    )
    api_base_url: str = Field(
        "https://api.telegram.org/bot",
        description="Bot API base URL; point it at a local Bot API server or a test double.",
    )
    mode: Literal["polling", "webhook"] = Field(
        "polling", description="How updates arrive: long polling or a webhook on our server."
    )
    webhook_url: str | None = Field(
        None, description="Public URL Telegram posts updates to (webhook mode)."
    )
    webhook_path: str = Field(
        "/telegram/webhook", description="Path on our server that receives webhook updates."
    )
    webhook_secret: SecretStr | None = Field(
        None, description="Secret Telegram sends in `X-Telegram-Bot-Api-Secret-Token`."
    )
    channels: list[str] = Field(
        default_factory=list,
        description="Chat ids or @usernames that receive every new article.",
    )
    admins: list[int] = Field(
        default_factory=list, description="Telegram user ids allowed to use admin commands."
    )
    default_language: CatalogLanguage = Field(
        "en", description="Language for chats whose language is not known."
    )
    default_timezone: str = Field(
        "UTC",
        description="IANA timezone (`Europe/Rome`) of digests and quiet hours for chats "
        "that chose none.",
    )
    global_rate: float = Field(30.0, gt=0, description="Messages per second overall.")
    chat_rate: float = Field(1.0, gt=0, description="Messages per second to one private chat.")
    group_rate_per_minute: int = Field(
        20, gt=0, description="Messages per minute to one group or channel."
    )
    paid_broadcast: bool = Field(
        False, description="Use `allow_paid_broadcast` and the paid global rate."
    )
    paid_global_rate: float = Field(
        1000.0, gt=0, description="Messages per second overall with `paid_broadcast`."
    )
    max_attempts: int = Field(
        5, gt=0, description="Attempts per delivery on network errors and 5xx before it fails."
    )
    on_edit: Literal["edit", "ignore"] = Field(
        "edit",
        description="When a posted article changes: `edit` every message sent for it in place "
        "(a post that grew gets its extra pieces, one that shrank loses its surplus ones); "
        "`ignore` leaves the chats as they are. Saves within 2 seconds make one edit.",
    )
    on_remove: Literal["keep", "mark", "delete"] = Field(
        "mark",
        description="When a posted article's file is removed: `keep` the messages, `mark` them "
        '(headline struck through, "withdrawn"), or `delete` them where Telegram still allows '
        "it (48 hours) and mark them elsewhere.",
    )
    template: str | None = Field(
        None,
        description="A Jinja2 template for the post (sandboxed; every value is escaped for "
        "Telegram HTML): `headline`, `date`, `date_iso`, `language`, `lead`, `sections` "
        "(`heading`, `summary`), `url`, `feed_title`, `read_label`, `show_link`. Unset: the "
        "built-in post. Checked at start-up on a sample article: an error stops the daemon; "
        "an article it fails for later gets the built-in post (logged at ERROR).",
    )
    button: Literal["off", "instead", "beside"] = Field(
        "off",
        description='An inline "Read the article" URL button under the post: `instead` of '
        "the text link, or `beside` it.",
    )
    link_preview: Literal["off", "small-below", "small-above", "large-below", "large-above"] = (
        Field(
            "off",
            description="A preview of the article page on the post's first message: small or "
            "large media, below or above the text.",
        )
    )
    instant_view_rhash: str | None = Field(
        None,
        description="The template hash (`rhash`) of your Instant View template, from "
        "Telegram's Instant View editor (hex, e.g. `71b64d09b0a20d`): every article link the "
        "bot sends becomes `https://t.me/iv?url=…&rhash=…` and opens inside Telegram. Unset: "
        "links go to the article page.",
    )
    delay: float = Field(
        0.0,
        ge=0,
        description="Seconds a new article waits before it is posted to Telegram, so a typo "
        "can be fixed first: the post sent is the version current when it goes out.",
    )

    @model_validator(mode="after")
    def _instant_view_rhash(self) -> TelegramSettings:
        # Not echoed: whatever was pasted here by mistake may be a secret.
        if self.instant_view_rhash and not RHASH.fullmatch(self.instant_view_rhash):
            raise ValueError(
                "telegram.instant_view_rhash is not an Instant View template hash: want the "
                "rhash from Telegram's Instant View editor, 8 to 32 characters 0-9 a-f"
            )
        return self

    @model_validator(mode="after")
    def _known_timezone(self) -> TelegramSettings:
        try:
            timezone(self.default_timezone)
        except ScheduleError as e:
            raise ValueError(f"telegram.default_timezone: {e}") from None
        return self


class PlaygroundSettings(_Section):
    """The chat playground: the real bot against an in-process Bot API emulator, in the browser."""

    enabled: bool | Literal["auto"] = Field(
        "auto",
        description="Serve `/playground`: `auto` turns it on only when no Telegram token is set "
        "and `http.host` is a loopback address; `true` also on other addresses (anyone who "
        "reaches the server can chat with the bot); `false` never. A token always turns it off.",
    )


class Settings(BaseSettings):
    """All of feedbot's settings."""

    model_config = SettingsConfigDict(
        env_prefix="FEEDBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
    )

    index: IndexSettings = IndexSettings()
    feed: FeedSettings = FeedSettings()
    http: HttpSettings = HttpSettings()
    storage: StorageSettings = StorageSettings()
    cluster: ClusterSettings = ClusterSettings()
    log: LogSettings = LogSettings()
    telegram: TelegramSettings = TelegramSettings()
    playground: PlaygroundSettings = PlaygroundSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first, then what load_settings() read from the TOML file.
        return (env_settings, init_settings)


def _describe(error: ValidationError) -> str:
    """``index.max_file_bytes (FEEDBOT_INDEX__MAX_FILE_BYTES): Input should be …``."""
    problems = []
    for item in error.errors():
        parts = [str(part) for part in item["loc"]]
        key = ".".join(parts)
        env = "FEEDBOT_" + "__".join(p.upper() for p in parts[:2])
        problems.append(f"{key} ({env}): {item['msg']}")
    return "; ".join(problems)


def load_settings(path: Path | None = None) -> Settings:
    """Read settings from ``path`` (or ``$FEEDBOT_CONFIG``, or the default file).

    The default file may be missing (defaults apply); a file named explicitly
    must exist. Environment overrides are read from ``os.environ``. Raises
    `ConfigError` naming the wrong key.
    """
    explicit = path is not None or "FEEDBOT_CONFIG" in os.environ
    config_path = path or Path(os.environ.get("FEEDBOT_CONFIG") or DEFAULT_CONFIG_PATH)
    data: dict[str, Any] = {}
    try:
        with config_path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{config_path}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{config_path}: {e}") from e
    except OSError as e:
        raise ConfigError(f"{config_path}: cannot read: {e.strerror}") from e
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(f"{config_path}: {_describe(e)}") from None
