"""The real container test: build the image with podman and run the daemon in it.

    python3 tests/container/run_container.py        (``make container-test``)

Builds feedbot's Dockerfile on a local stand-in base image (Debian bookworm's
python3, made with debootstrap once per machine and cached), then starts the
container with a temporary index folder and a named data volume and checks what
an operator relies on: it becomes healthy, serves the seed article in
``/feed.atom``, picks up an article dropped into the folder, stops cleanly (exit
0) well within the grace period on SIGTERM, and a new container on the same
volume re-adds nothing. Any failure exits non-zero with a clear message; nothing
is skipped. Containers and volumes it creates are always removed. Standard
library only, so it runs before (or without) the project's venv.

How podman runs on these machines is in the constants below: `PODMAN` (runc: crun
fails on their cgroups), `ULIMITS` (lower than podman would set, which these VMs
refuse) and the CA bundle and pip settings mounted into the build (`CA_BUNDLE`,
`PIP_CONF`: without them pip fails with CERTIFICATE_VERIFY_FAILED). The Dockerfile
itself stays written for ordinary Docker.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("FEEDBOT_TEST_BASE_IMAGE", "localhost/debian-python:bookworm")
IMAGE = "localhost/feedbot:test"
SEED_ID = "000_52a7b11c330feae9"
NEW_ID = "001_c0ffee00c0ffee00"
NEW_ARTICLE = (
    "date 2026-11-23 Container test: a new article dropped into the index\n"
    "\n"
    "This article was written into the mounted index folder while the daemon ran. "
    "It must appear in the feed without a restart.\n"
    "\n"
    "Second section\n"
    "\n"
    "A second paragraph, so the article has more than one section to summarise.\n"
)
GRACE = 15  # seconds, as docker-compose.yml's stop_grace_period
STOP_WELL_WITHIN = 10.0  # a clean stop must take less than this
HEALTHY_DEADLINE = 90.0
PICKUP_DEADLINE = 30.0
ULIMITS = ("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024")
PODMAN = ("podman", "--runtime", "runc")
ATOM = "{http://www.w3.org/2005/Atom}"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PIP_CONF = "/etc/pip.conf"

_started = time.monotonic()
_containers: list[str] = []
_volumes: list[str] = []


class Failure(Exception):
    """The container does not do what it must; the message says what."""


def say(message: str) -> None:
    """One progress line with the elapsed time."""
    print(f"[container-test {time.monotonic() - _started:6.1f}s] {message}", flush=True)


def sh(
    args: Sequence[str], *, check: bool = True, quiet: bool = False, input: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command; with ``check`` a non-zero exit is a `Failure` showing its output."""
    if not quiet:
        say("$ " + " ".join(args))
    done = subprocess.run(list(args), input=input, capture_output=True, check=False)
    result = subprocess.CompletedProcess(
        done.args,
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )
    if check and result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-40:]
        raise Failure(f"`{' '.join(args)}` exited {result.returncode}:\n" + "\n".join(tail))
    return result


def stream(args: Sequence[str]) -> None:
    """Run a long command with its output shown as it comes; non-zero exit is a `Failure`."""
    say("$ " + " ".join(args))
    code = subprocess.run(list(args), check=False).returncode
    if code != 0:
        raise Failure(f"`{' '.join(args)}` exited {code} (output above)")


# --- setup: tools, the stand-in base image, the feedbot image ---------------------------


def ensure_tools() -> None:
    """Install podman, runc and debootstrap with apt-get when any is missing."""
    missing = [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]
    if not missing:
        return
    say(f"installing {', '.join(missing)} with apt-get")
    if os.geteuid() != 0:
        raise Failure(f"{', '.join(missing)} missing and not root: install podman runc debootstrap")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for args in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "podman", "runc", "debootstrap"],
    ):
        say("$ " + " ".join(args))
        if subprocess.run(args, env=env, check=False).returncode != 0:
            raise Failure(f"`{' '.join(args)}` failed")


def ensure_base_image() -> None:
    """Build the debootstrap stand-in for python:3.12-slim unless it is cached."""
    if sh([*PODMAN, "image", "exists", BASE_IMAGE], check=False, quiet=True).returncode == 0:
        say(f"base image {BASE_IMAGE} is cached")
        return
    if os.geteuid() != 0:
        raise Failure("building the base image with debootstrap needs root")
    say(f"building the base image {BASE_IMAGE} with debootstrap (about a minute)")
    work = Path(tempfile.mkdtemp(prefix="feedbot-rootfs-", dir="/var/tmp"))
    try:
        rootfs = work / "rootfs"
        stream(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,python3-pip,ca-certificates",
                "bookworm",
                str(rootfs),
            ]
        )
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / cache).glob("*"):
                if item.is_file():
                    item.unlink()
        say(f"importing the root file system as {BASE_IMAGE}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = subprocess.run(
            [
                *PODMAN,
                "import",
                "--change",
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "--change",
                'CMD ["python3"]',
                "-",
                BASE_IMAGE,
            ],
            stdin=tar.stdout,
            capture_output=True,
            check=False,
        )
        assert tar.stdout is not None
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise Failure(f"podman import failed: {imported.stderr.decode(errors='replace')}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def image_id() -> str | None:
    """The id of the image tagged `IMAGE`, if there is one."""
    done = sh([*PODMAN, "image", "inspect", "--format", "{{.Id}}", IMAGE], check=False, quiet=True)
    return done.stdout.strip() or None if done.returncode == 0 else None


def build_image() -> None:
    """Build the project's Dockerfile (docker format, so HEALTHCHECK is kept).

    The previous image of the same tag is removed once replaced; the build cache
    (the builder stage's layers) stays, so an unchanged dependency set is not
    reinstalled.
    """
    previous = image_id()
    args = [*PODMAN, "build", "--format", "docker", "--network", "host", *ULIMITS]
    for path in (CA_BUNDLE, PIP_CONF):
        if Path(path).exists():
            args += ["-v", f"{path}:{path}:ro"]
    args += ["--build-arg", f"PYTHON_IMAGE={BASE_IMAGE}", "-t", IMAGE, str(ROOT)]
    stream(args)
    if previous is not None and previous != image_id():
        sh([*PODMAN, "rmi", previous], check=False, quiet=True)


def check_image() -> None:
    """The image runs as a non-root user, has a health check, and `feedbot` works in it."""
    fmt = "{{.Config.User}}|{{json .Config.Healthcheck}}|{{.Config.StopSignal}}"
    user, health, stop_signal = (
        sh([*PODMAN, "image", "inspect", "--format", fmt, IMAGE], quiet=True)
        .stdout.strip()
        .split("|", 2)
    )
    if user in ("", "root", "0"):
        raise Failure(f"the image runs as root (User={user!r})")
    if "healthz" not in health:
        raise Failure(f"the image has no HEALTHCHECK against /healthz: {health}")
    if stop_signal not in ("SIGTERM", "15", "TERM", ""):
        raise Failure(f"the image's stop signal is {stop_signal}, not SIGTERM")
    run = [*PODMAN, "run", "--rm", "--network", "none", *ULIMITS, IMAGE]
    version = sh([*run, "--version"]).stdout.strip()
    say(f"image user {user}, {version}")
    checked = sh([*run, "check"]).stdout.strip().splitlines()
    say(f"`feedbot check` in the image: {checked[-1] if checked else '(no output)'}")


# --- running it -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str) -> tuple[int, bytes]:
    """GET ``url``: (status, body); (0, reason) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e).encode()


def state(name: str) -> tuple[str, int]:
    """The container's status (running, exited, ...) and exit code."""
    out = sh(
        [*PODMAN, "inspect", "--format", "{{.State.Status}}|{{.State.ExitCode}}", name],
        quiet=True,
    ).stdout.strip()
    status, code = out.split("|")
    return status, int(code)


def logs(name: str) -> str:
    """The container's output so far (last 60 lines)."""
    done = sh([*PODMAN, "logs", name], check=False, quiet=True)
    return "\n".join((done.stdout + done.stderr).strip().splitlines()[-60:])


def start(name: str, index: Path, volume: str, port: int) -> None:
    """Start the image as ``name`` on ``port`` with ``index`` and ``volume`` mounted."""
    sh(
        [
            *PODMAN,
            "run",
            "--detach",
            "--name",
            name,
            "--network",
            "host",
            *ULIMITS,
            "-v",
            f"{index}:/app/seeds:ro",
            "-v",
            f"{volume}:/data",
            "-e",
            f"FEEDBOT_HTTP__PORT={port}",
            "-e",
            f"FEEDBOT_FEED__BASE_URL=http://127.0.0.1:{port}/",
            IMAGE,
        ]
    )
    _containers.append(name)


def wait_healthy(name: str, base: str) -> None:
    """Poll /healthz until 200 (failing early if the container dies), then run the health check."""
    deadline = time.monotonic() + HEALTHY_DEADLINE
    last = "no answer"
    while True:
        status, body = http_get(base + "healthz")
        if status == 200:
            break
        last = f"{status} {body[:200]!r}"
        container_status, code = state(name)
        if container_status != "running":
            raise Failure(
                f"the container {container_status} (exit {code}) before it became healthy; "
                f"its log:\n{logs(name)}"
            )
        if time.monotonic() > deadline:
            raise Failure(
                f"/healthz not 200 within {HEALTHY_DEADLINE:.0f}s (last: {last}); "
                f"log:\n{logs(name)}"
            )
        time.sleep(0.5)
    say(f"/healthz 200: {body[:200].decode(errors='replace')}")
    check = sh([*PODMAN, "healthcheck", "run", name], check=False)
    if check.returncode != 0:
        raise Failure(
            f"`podman healthcheck run {name}` exited {check.returncode}: "
            f"{(check.stdout + check.stderr).strip()}"
        )
    say("the image's HEALTHCHECK passes (`podman healthcheck run`)")


def feed_entries(base: str) -> dict[str, str]:
    """The entries of /feed.atom: id -> updated."""
    status, body = http_get(base + "feed.atom")
    if status != 200:
        raise Failure(f"/feed.atom answered {status}: {body[:300]!r}")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as e:
        raise Failure(f"/feed.atom is not XML: {e}") from None
    entries: dict[str, str] = {}
    for entry in root.iter(f"{ATOM}entry"):
        entry_id = entry.findtext(f"{ATOM}id") or ""
        if entry_id in entries:
            raise Failure(f"/feed.atom lists the entry {entry_id} twice")
        entries[entry_id] = entry.findtext(f"{ATOM}updated") or ""
    return entries


def ids_with(entries: dict[str, str], article_id: str) -> list[str]:
    """The entry ids naming ``article_id``."""
    return [entry_id for entry_id in entries if entry_id.endswith(article_id)]


def drop_article(index: Path) -> None:
    """Write a new article into the index the way an editor should: temp name, then rename."""
    temp = index / f".{NEW_ID}.txt.tmp"
    temp.write_text(NEW_ARTICLE, encoding="utf-8")
    temp.chmod(0o644)
    temp.rename(index / f"{NEW_ID}.txt")


def wait_for_article(base: str, article_id: str) -> dict[str, str]:
    """Poll /feed.atom until ``article_id`` is in it."""
    deadline = time.monotonic() + PICKUP_DEADLINE
    began = time.monotonic()
    while True:
        entries = feed_entries(base)
        if ids_with(entries, article_id):
            say(f"{article_id} appeared in /feed.atom after {time.monotonic() - began:.1f}s")
            return entries
        if time.monotonic() > deadline:
            raise Failure(
                f"{article_id} not in /feed.atom {PICKUP_DEADLINE:.0f}s after it was written "
                f"(entries: {sorted(entries)})"
            )
        time.sleep(0.5)


def stop(name: str) -> float:
    """`podman stop -t GRACE`; fail unless the exit code is 0 well within the grace period."""
    began = time.monotonic()
    sh([*PODMAN, "stop", "-t", str(GRACE), name])
    took = time.monotonic() - began
    status, code = state(name)
    if code != 0:
        raise Failure(f"the container exited {code} on SIGTERM (want 0); log:\n{logs(name)}")
    if took >= STOP_WELL_WITHIN:
        raise Failure(
            f"stopping took {took:.1f}s, not well within the {GRACE}s grace period; "
            f"log:\n{logs(name)}"
        )
    say(f"stopped cleanly: {status}, exit {code}, in {took:.1f}s (grace {GRACE}s)")
    output = logs(name)
    if "Traceback" in output:
        raise Failure(f"the container's log has a traceback:\n{output}")
    return took


_DUMP_ARTICLES = (
    "import json, sqlite3; db = sqlite3.connect('/data/feedbot.sqlite3'); "
    "print(json.dumps(db.execute('SELECT * FROM articles ORDER BY 1').fetchall()))"
)


def stored_articles(volume: str) -> list[list[object]]:
    """Every row of the articles table in the database on ``volume``, read in the image."""
    import json

    done = sh(
        [
            *PODMAN,
            "run",
            "--rm",
            "--network",
            "none",
            *ULIMITS,
            "-v",
            f"{volume}:/data",
            "--entrypoint",
            "python3",
            IMAGE,
            "-c",
            _DUMP_ARTICLES,
        ],
        quiet=True,
    )
    rows: list[list[object]] = json.loads(done.stdout)
    return rows


def scenario(tag: str, index: Path) -> None:
    """The whole check, on containers and a volume named after ``tag``."""
    volume = f"feedbot-ct-data-{tag}"
    sh([*PODMAN, "volume", "create", volume])
    _volumes.append(volume)
    port = free_port()
    base = f"http://127.0.0.1:{port}/"

    first = f"feedbot-ct-{tag}-1"
    start(first, index, volume, port)
    wait_healthy(first, base)
    entries = feed_entries(base)
    if not ids_with(entries, SEED_ID):
        raise Failure(f"the seed {SEED_ID} is not in /feed.atom: {sorted(entries)}")
    say(f"/feed.atom has the seed ({len(entries)} entries)")
    drop_article(index)
    before = wait_for_article(base, NEW_ID)
    stop(first)
    say("log: " + next((ln for ln in logs(first).splitlines() if "running" in ln), "(no line)"))
    rows = stored_articles(volume)
    if len(rows) != len(before):
        raise Failure(f"the database holds {len(rows)} articles, the feed showed {len(before)}")
    say(f"the data volume's database holds {len(rows)} articles")

    second = f"feedbot-ct-{tag}-2"
    say("starting a new container on the same data volume")
    start(second, index, volume, port)
    wait_healthy(second, base)
    time.sleep(2.0)  # let a first scan that would wrongly re-add articles finish
    after = feed_entries(base)
    if after != before:
        raise Failure(
            "the restart changed the feed (articles re-added or re-dated):\n"
            f"  before: {before}\n  after:  {after}"
        )
    say(f"after the restart the feed is unchanged ({len(after)} entries, same `updated`)")
    stop(second)
    if stored_articles(volume) != rows:
        raise Failure("the restart rewrote stored articles (rows differ, e.g. first_seen)")
    say("the stored article rows are identical after the restart (nothing re-added)")


def cleanup() -> None:
    """Remove every container and volume this run created (the images stay as a cache)."""
    for name in reversed(_containers):
        sh([*PODMAN, "rm", "--force", "--time", "0", name], check=False, quiet=True)
    for volume in _volumes:
        sh([*PODMAN, "volume", "rm", "--force", volume], check=False, quiet=True)
    _containers.clear()
    _volumes.clear()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    """Run the container test; 0 when everything held, 1 with a message when not."""
    signal.signal(signal.SIGTERM, _interrupted)
    tag = f"{os.getpid()}"
    index = Path(tempfile.mkdtemp(prefix="feedbot-ct-index-"))
    try:
        ensure_tools()
        ensure_base_image()
        build_image()
        check_image()
        index.chmod(0o755)  # the container's non-root user must read it
        for seed in sorted((ROOT / "seeds").glob("*.txt")):
            shutil.copy(seed, index / seed.name)
            (index / seed.name).chmod(0o644)
        scenario(tag, index)
    except Failure as e:
        say(f"FAILED: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    finally:
        cleanup()
        shutil.rmtree(index, ignore_errors=True)
    say("PASSED: build, health, feed, pickup, clean stop and restart all hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
