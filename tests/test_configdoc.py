"""The configuration reference: generated from the model, committed, complete."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from feedbot.cli import cli
from feedbot.config import Settings
from feedbot.configdoc import env_name, render_config_reference, setting_fields
from tests.conftest import ROOT

DOC = ROOT / "docs" / "configuration.md"


def test_committed_reference_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == render_config_reference(), (
        "docs/configuration.md is out of date: run `feedbot config-docs > docs/configuration.md`"
    )


def test_every_setting_has_a_description() -> None:
    missing = [
        f"{section}.{key}"
        for section, _, fields in setting_fields()
        for key, field in fields
        if not (field.description or "").strip()
    ]
    assert not missing, f"settings without Field(description=...): {missing}"


def test_every_section_has_a_docstring() -> None:
    assert all((model.__doc__ or "").strip() for _, model, _ in setting_fields())


def test_every_setting_has_a_row_with_its_env_variable() -> None:
    text = render_config_reference()
    for section, _, fields in setting_fields():
        assert f"## `[{section}]`" in text
        for key, _ in fields:
            row = f"| `{key}` |"
            assert any(
                line.startswith(row) and f"`{env_name(section, key)}`" in line
                for line in text.splitlines()
            ), f"{section}.{key} has no row"


def test_sections_are_all_of_settings() -> None:
    assert [name for name, _, _ in setting_fields()] == list(Settings.model_fields)


def test_env_names_really_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """The documented variable name is the one pydantic-settings reads."""
    monkeypatch.setenv(env_name("http", "port"), "9123")
    monkeypatch.setenv(env_name("log", "level"), "DEBUG")
    monkeypatch.setenv(env_name("telegram", "admins"), "[1, 2]")
    settings = Settings()
    assert settings.http.port == 9123
    assert settings.log.level == "DEBUG"
    assert settings.telegram.admins == [1, 2]


def test_defaults_are_rendered_as_toml() -> None:
    text = render_config_reference()
    assert "| `port` | integer, ≥ 0, ≤ 65535 | `8080` |" in text
    assert "| `watch` | boolean | `true` |" in text
    assert '| `path` | path | `"seeds"` |' in text
    assert re.search(r"\| `token` \| secret string \(optional\) \| \*\(unset\)\* \|", text)
    assert '| `level` | one of `"DEBUG"`, `"INFO"`, `"WARNING"`, `"ERROR"` | `"INFO"` |' in text


def test_pipes_in_descriptions_do_not_break_the_table() -> None:
    for line in render_config_reference().splitlines():
        if line.startswith("| `"):
            cells = re.split(r"(?<!\\)\|", line)
            assert len(cells) == 7, line  # 5 cells between 6 unescaped pipes


def test_cli_prints_the_reference() -> None:
    result = CliRunner().invoke(cli, ["config-docs"])
    assert result.exit_code == 0, result.output
    assert result.output == render_config_reference()
