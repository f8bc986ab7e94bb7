"""The deployment files agree with the settings model: docker-compose.yml, Dockerfile, .env.example.

A renamed setting, a moved data directory or a changed port fails here before an
operator finds out. The container itself is exercised by `make container-test`.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from feedbot.config import Settings, load_settings
from tests.conftest import ROOT

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERIGNORE = ROOT / ".dockerignore"
# FEEDBOT_* names that are not settings: the config file path read by load_settings().
NOT_SETTINGS = {"FEEDBOT_CONFIG"}
_ENV_NAME = re.compile(r"\bFEEDBOT_[A-Z0-9_]+")


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def service() -> dict[str, Any]:
    feedbot = compose()["services"]["feedbot"]
    assert isinstance(feedbot, dict)
    return feedbot


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def runtime_stage() -> list[tuple[str, str]]:
    """The instructions of the last stage (the image that runs)."""
    instructions = dockerfile_instructions()
    last_from = max(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    return instructions[last_from:]


def image_env() -> dict[str, str]:
    """The ENV the runtime image sets."""
    env: dict[str, str] = {}
    for word, rest in runtime_stage():
        if word == "ENV":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                env[key] = value
    return env


def image_workdir() -> PurePosixPath:
    workdirs = [rest for word, rest in runtime_stage() if word == "WORKDIR"]
    assert workdirs, "the runtime stage sets no WORKDIR"
    return PurePosixPath(workdirs[-1])


def compose_env() -> dict[str, str]:
    environment = service().get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {str(k): str(v) for k, v in environment.items()}


def container_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings the daemon sees in the compose service: the shipped config, image ENV,
    compose environment."""
    env = {**image_env(), **compose_env()}
    for key, value in env.items():
        if key.startswith("FEEDBOT_") and key not in NOT_SETTINGS:
            monkeypatch.setenv(key, value)
    return load_settings(ROOT / "config" / "feedbot.toml")


def in_container(path: Path) -> PurePosixPath:
    """Where a configured path lands inside the container (relative = under WORKDIR)."""
    posix = PurePosixPath(path.as_posix())
    return posix if posix.is_absolute() else image_workdir() / posix


def mounts() -> list[tuple[str, PurePosixPath, str]]:
    """The service's volumes as (source, target, mode), short or long syntax."""
    out = []
    for volume in service()["volumes"]:
        if isinstance(volume, str):
            parts = volume.split(":")
            mode = parts[2] if len(parts) > 2 else "rw"
            out.append((parts[0], PurePosixPath(parts[1]), mode))
        else:
            mode = "ro" if volume.get("read_only") else "rw"
            out.append((volume["source"], PurePosixPath(volume["target"]), mode))
    return out


def seconds(duration: str | int | float) -> float:
    """A compose duration ("1m30s", "15s", 10) in seconds."""
    if isinstance(duration, int | float):
        return float(duration)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def setting_exists(name: str) -> bool:
    """True when FEEDBOT_SECTION__KEY names a field of a section of `Settings`."""
    section, sep, key = name.removeprefix("FEEDBOT_").partition("__")
    field = Settings.model_fields.get(section.lower())
    if not sep or field is None:
        return False
    model = field.annotation
    assert isinstance(model, type) and issubclass(model, BaseModel)
    return key.lower() in model.model_fields


# --- docker-compose.yml -----------------------------------------------------------------


def test_compose_has_the_feedbot_service() -> None:
    feedbot = service()
    assert feedbot["build"]
    assert feedbot["image"].startswith("feedbot:")
    assert feedbot["restart"] == "unless-stopped"


def test_compose_port_is_the_settings_port(monkeypatch: pytest.MonkeyPatch) -> None:
    port = container_settings(monkeypatch).http.port
    assert port == Settings().http.port
    published = [str(p) for p in service()["ports"]]
    assert any(p.split(":")[-1] == str(port) for p in published), published
    exposed = [rest for word, rest in runtime_stage() if word == "EXPOSE"]
    assert exposed == [str(port)]


def test_compose_listens_on_all_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    assert container_settings(monkeypatch).http.host == "0.0.0.0"


def test_index_is_mounted_read_only_where_the_config_looks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index = in_container(container_settings(monkeypatch).index.path)
    found = [(src, mode) for src, target, mode in mounts() if target == index]
    assert found, f"nothing is mounted at the index path {index}: {mounts()}"
    source, mode = found[0]
    assert mode == "ro"
    assert (ROOT / source).is_dir()


def test_config_folder_is_mounted_where_the_image_reads_it() -> None:
    config = PurePosixPath(image_env()["FEEDBOT_CONFIG"])
    found = [(src, mode) for src, target, mode in mounts() if target == config.parent]
    assert found, f"nothing is mounted at {config.parent}"
    source, mode = found[0]
    assert mode == "ro"
    assert (ROOT / source / config.name).is_file()


def test_data_volume_holds_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = in_container(container_settings(monkeypatch).storage.path)
    named = set(compose().get("volumes") or {})
    found = [src for src, target, _ in mounts() if storage.is_relative_to(target)]
    assert found, f"the database {storage} is on no volume: {mounts()}"
    assert found[0] in named, f"{found[0]} is not a named volume"
    declared = [rest for word, rest in runtime_stage() if word == "VOLUME"]
    assert any(str(storage.parent) in rest for rest in declared), declared


def test_token_comes_from_an_uncommitted_env_file() -> None:
    env_file = service()["env_file"]
    entries = env_file if isinstance(env_file, list) else [env_file]
    paths = [e if isinstance(e, str) else e["path"] for e in entries]
    assert ".env" in paths
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert "FEEDBOT_TELEGRAM__TOKEN" not in compose_env()


def test_healthcheck_asks_healthz() -> None:
    test = service()["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert any("/healthz" in part for part in test)
    assert test[1:3] == ["python3", "-c"]
    compile(test[3], "<healthcheck>", "exec")
    assert seconds(service()["healthcheck"]["start_period"]) > 0


def test_healthcheck_is_the_images_own() -> None:
    """Compose repeats the Dockerfile's HEALTHCHECK, which `make container-test` runs."""
    import json

    stage = dict(runtime_stage())
    exec_form = json.loads(stage["HEALTHCHECK"].partition(" CMD ")[2])
    assert service()["healthcheck"]["test"] == ["CMD", *exec_form]


def test_stop_grace_period_is_long_enough() -> None:
    assert seconds(service()["stop_grace_period"]) >= 10


@pytest.mark.parametrize(
    ("text", "expected"), [("15s", 15.0), ("1m30s", 90.0), (10, 10.0), ("500ms", 0.5)]
)
def test_seconds_reads_compose_durations(text: str | int, expected: float) -> None:
    assert seconds(text) == expected


# --- environment variable names ----------------------------------------------------------


@pytest.mark.parametrize("path", [COMPOSE, ENV_EXAMPLE, DOCKERFILE], ids=lambda p: p.name)
def test_every_feedbot_variable_is_a_setting(path: Path) -> None:
    names = set(_ENV_NAME.findall(path.read_text(encoding="utf-8"))) - NOT_SETTINGS
    assert names, f"{path.name} names no FEEDBOT_ variables"
    unknown = sorted(name for name in names if not setting_exists(name))
    assert not unknown, f"{path.name} names variables that are no setting: {unknown}"


def test_setting_exists_is_strict() -> None:
    assert setting_exists("FEEDBOT_HTTP__PORT")
    assert not setting_exists("FEEDBOT_HTTP__PORTS")
    assert not setting_exists("FEEDBOT_HTTP_PORT")
    assert not setting_exists("FEEDBOT_NOPE__PORT")


def test_env_example_values_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every assignment in .env.example, commented out or not, is accepted as written."""
    assignments = re.findall(
        r"^#?\s*(FEEDBOT_[A-Z0-9_]+)=(\S+)$", ENV_EXAMPLE.read_text(), re.MULTILINE
    )
    assert len(assignments) >= 4
    for name, value in assignments:
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.telegram.token is not None
    assert settings.telegram.mode == "webhook"


def test_compose_and_commented_values_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compose environment, including the commented webhook and WebSub lines, parses."""
    commented = re.findall(
        r'^\s*#\s*(FEEDBOT_[A-Z0-9_]+):\s*"([^"]*)"\s*$', COMPOSE.read_text(), re.MULTILINE
    )
    assert {name for name, _ in commented} >= {
        "FEEDBOT_TELEGRAM__MODE",
        "FEEDBOT_TELEGRAM__WEBHOOK_URL",
        "FEEDBOT_FEED__WEBSUB_HUB",
    }
    for name, value in commented:
        monkeypatch.setenv(name, value)
    settings = container_settings(monkeypatch)
    assert settings.telegram.mode == "webhook"
    assert settings.feed.websub_hub


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_base_is_a_build_argument() -> None:
    instructions = dockerfile_instructions()
    first_from = next(i for i, (word, _) in enumerate(instructions) if word == "FROM")
    args = [rest for word, rest in instructions[:first_from] if word == "ARG"]
    assert any(a.startswith("PYTHON_IMAGE=python:3.12-slim") for a in args)
    froms = [rest.split()[0] for word, rest in instructions if word == "FROM"]
    assert len(froms) >= 2 and all(f == "${PYTHON_IMAGE}" for f in froms)


def test_dockerfile_uses_python3_not_python_or_pip() -> None:
    """The stand-in base has only `python3`: no bare `python`/`pip` commands in RUN."""
    for word, rest in dockerfile_instructions():
        if word == "RUN":
            assert not re.search(r"(^|&&|\|\||;|\|)\s*(python|pip3?)\s", rest), rest


def test_runtime_stage_runs_the_daemon_as_a_user() -> None:
    stage = dict(runtime_stage())
    assert stage["USER"] not in ("root", "0")
    assert stage["ENTRYPOINT"] == '["feedbot"]'
    assert stage["CMD"] == '["run"]'
    assert stage["STOPSIGNAL"] == "SIGTERM"
    assert "/healthz" in stage["HEALTHCHECK"]
    assert "curl" not in stage["HEALTHCHECK"] and "wget" not in stage["HEALTHCHECK"]
    assert image_env()["PYTHONUNBUFFERED"] == "1"


def test_dockerignore_keeps_local_state_out() -> None:
    ignored = set(DOCKERIGNORE.read_text().split())
    assert {".venv", ".git", "var", "site", ".env", "bench/out"} <= ignored


# --- docker-compose.replicas.yml -----------------------------------------------------------

REPLICAS = ROOT / "docker-compose.replicas.yml"


def replica_services() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(REPLICAS.read_text(encoding="utf-8"))  # merges the << anchors
    services = data["services"]
    return {name: s for name, s in services.items() if name.startswith("replica-")}


def replica_env(service: dict[str, Any]) -> dict[str, str]:
    """The replica's FEEDBOT_* environment, with ${POSTGRES_PASSWORD} filled in."""
    env = {str(k): str(v) for k, v in service["environment"].items()}
    return {k: v.replace("${POSTGRES_PASSWORD}", "pw") for k, v in env.items()}


def test_replicas_compose_runs_two_replicas_on_one_database_and_index(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    replicas = replica_services()
    assert len(replicas) == 2
    seen: list[Settings] = []
    for service_ in replicas.values():
        with monkeypatch.context() as m:
            for key, value in {**image_env(), **replica_env(service_)}.items():
                if key not in NOT_SETTINGS:
                    m.setenv(key, value)
            seen.append(load_settings(ROOT / "config" / "feedbot.toml"))
        assert service_["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert service_["healthcheck"] == service()["healthcheck"]
    first, second = seen
    assert first.storage.url == second.storage.url
    assert first.storage.url is not None and first.storage.url.startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in first.storage.url
    assert first.index.path == second.index.path
    names = [s.cluster.replica_name for s in seen]
    assert None not in names and len(set(names)) == 2
    index = in_container(first.index.path)
    sources = [
        {v.split(":")[0] for v in s["volumes"] if v.split(":")[1] == str(index)}
        for s in replicas.values()
    ]
    assert sources[0] == sources[1] and len(sources[0]) == 1  # the same folder
    assert (ROOT / next(iter(sources[0]))).is_dir()
    ports = [p.split(":")[0] for s in replicas.values() for p in s["ports"]]
    assert len(set(ports)) == 2


def test_replicas_compose_names_only_real_settings() -> None:
    names = set(_ENV_NAME.findall(REPLICAS.read_text(encoding="utf-8"))) - NOT_SETTINGS
    assert {"FEEDBOT_STORAGE__URL", "FEEDBOT_CLUSTER__REPLICA_NAME"} <= names
    assert not sorted(n for n in names if not setting_exists(n))


def test_replicas_compose_keeps_the_password_in_the_env_file() -> None:
    data = yaml.safe_load(REPLICAS.read_text(encoding="utf-8"))
    password = data["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:?")
    assert "POSTGRES_PASSWORD=" in ENV_EXAMPLE.read_text()
