"""The configuration reference, generated from the settings model — pure.

``feedbot config-docs > docs/configuration.md`` writes it; a test fails when the
committed file and the model drift apart, so no setting goes undocumented.
"""

from __future__ import annotations

import inspect
import json
import types
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from feedbot.config import DEFAULT_CONFIG_PATH, Settings

__all__ = ["env_name", "render_config_reference", "setting_fields"]

_INTRO = f"""\
# Configuration reference

<!-- Generated from feedbot/config.py by `feedbot config-docs > docs/configuration.md`.
     Do not edit by hand: change the Field descriptions and regenerate. -->

feedbot reads its settings from a TOML file and the environment. Precedence, highest first:

1. environment variables `FEEDBOT_<SECTION>__<KEY>` (two underscores between section and key),
   e.g. `FEEDBOT_HTTP__PORT=9000`;
2. the TOML file: `--config PATH`, else `$FEEDBOT_CONFIG`, else `{DEFAULT_CONFIG_PATH}`
   (which may be missing; a file named explicitly must exist);
3. the defaults below.

Relative paths are relative to the directory feedbot is started in. Lists are written in the
environment as JSON, e.g. `FEEDBOT_TELEGRAM__ADMINS=[123456789]`. Secrets (the bot token, the
webhook secret) are never printed in logs or errors; set them in the environment, not in a
shared file. An unknown key or a bad value stops feedbot with an error naming the key.

`config/feedbot.toml` is a commented example of every section. In the container image,
`FEEDBOT_CONFIG=/app/config/feedbot.toml`, `FEEDBOT_HTTP__HOST=0.0.0.0` and
`FEEDBOT_STORAGE__PATH=/data/feedbot.sqlite3` are set.
"""


def env_name(section: str, key: str) -> str:
    """The environment variable that overrides ``section.key``."""
    return f"FEEDBOT_{section.upper()}__{key.upper()}"


def setting_fields() -> list[tuple[str, type[BaseModel], list[tuple[str, FieldInfo]]]]:
    """Every section of `Settings` in order: (name, model, [(key, field), ...])."""
    sections = []
    for name, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel), name
        sections.append((name, model, list(model.model_fields.items())))
    return sections


def _type_name(annotation: Any) -> str:
    """A reader's name for a field type: `integer`, `one of "a", "b"`, `list of strings`."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{json.dumps(a)}`" for a in args)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        name = " or ".join(_type_name(a) for a in rest)
        return f"{name} (optional)" if len(rest) < len(args) else name
    if origin is list:
        inner = _type_name(args[0]) if args else "value"
        return f"list of {inner}s"
    names: dict[Any, str] = {
        str: "string",
        int: "integer",
        float: "number",
        bool: "boolean",
        SecretStr: "secret string",
    }
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _bounds(field: FieldInfo) -> str:
    """The field's numeric constraints, e.g. `> 0`, `≥ 0, ≤ 65535`."""
    parts = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            value = getattr(meta, attr, None)
            if value is not None:
                parts.append(f"{sign} {value}")
    return ", ".join(parts)


def _toml_value(value: Any) -> str:
    """A default as it would be written in the TOML file."""
    if value is None:
        return "*(unset)*"
    if isinstance(value, SecretStr):
        return "*(secret)*"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, PurePath):
        value = str(value)
    if isinstance(value, str):
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    if isinstance(value, list | tuple):
        return "`[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in value) + "]`"
    return f"`{value}`"


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return field.default


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def render_config_reference() -> str:
    """The whole reference as Markdown: an introduction, then a table per section."""
    out = [_INTRO]
    for section, model, fields in setting_fields():
        doc = inspect.cleandoc(model.__doc__ or "")
        out.append(f"\n## `[{section}]`\n")
        if doc:
            out.append(f"\n{doc}\n")
        out.append("\n| Key | Type | Default | Environment variable | Description |\n")
        out.append("|---|---|---|---|---|\n")
        for key, field in fields:
            kind = _type_name(field.annotation)
            bounds = _bounds(field)
            if bounds:
                kind = f"{kind}, {bounds}"
            row = [
                f"`{key}`",
                kind,
                _toml_value(_default(field)),
                f"`{env_name(section, key)}`",
                field.description or "",
            ]
            out.append("| " + " | ".join(_cell(c) for c in row) + " |\n")
    return "".join(out)
