"""Settings: the TOML file, environment overrides, and errors that name the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feedbot.config import Settings, load_settings
from feedbot.errors import ConfigError
from tests.conftest import ROOT


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feedbot.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_when_the_default_file_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings() == Settings()
    assert Settings().index.path == Path("seeds") and Settings().http.port == 8080


def test_the_shipped_config_loads_and_only_sets_the_language() -> None:
    shipped = load_settings(ROOT / "config" / "feedbot.toml")
    assert shipped.feed.language == "it"
    assert shipped.model_copy(update={"feed": Settings().feed}) == Settings()


def test_file_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[http]\nport = 9000\nhost = "0.0.0.0"\n[telegram]\nadmins = [1]\n')
    monkeypatch.setenv("FEEDBOT_HTTP__PORT", "9001")
    monkeypatch.setenv("FEEDBOT_TELEGRAM__CHANNELS", '["@news"]')
    monkeypatch.setenv("FEEDBOT_TELEGRAM__TOKEN", "123:abc")
    settings = load_settings(path)
    assert settings.http.port == 9001  # the environment wins
    assert settings.http.host == "0.0.0.0"  # the rest of the section stays from the file
    assert settings.telegram.admins == [1] and settings.telegram.channels == ["@news"]
    assert settings.telegram.token is not None
    assert "123:abc" not in repr(settings)  # secrets never print


def test_feedbot_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBOT_CONFIG", str(write(tmp_path, "[http]\nport = 9100\n")))
    assert load_settings().http.port == 9100
    monkeypatch.setenv("FEEDBOT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings()


@pytest.mark.parametrize(
    ("toml", "env", "message"),
    [
        ("[index]\nmax_file_bytes = 0\n", {}, r"index\.max_file_bytes \(FEEDBOT_INDEX__MAX"),
        ("[index]\nnope = 1\n", {}, r"index\.nope .*Extra inputs"),
        ("[nope]\n", {}, r"nope .*Extra inputs"),
        ("", {"FEEDBOT_HTTP__PORT": "eighty"}, r"http\.port \(FEEDBOT_HTTP__PORT\)"),
        ("", {"FEEDBOT_LOG__LEVEL": "LOUD"}, r"log\.level"),
        ("[http\nport = 1\n", {}, r"line 1"),  # not TOML: says where
    ],
)
def test_errors_name_the_key(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    toml: str,
    env: dict[str, str],
    message: str,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, toml))


def test_a_bad_config_exits_2_with_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nport = -1\n")
    done = subprocess.run(
        [sys.executable, "-m", "feedbot", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "http.port (FEEDBOT_HTTP__PORT)" in done.stderr
