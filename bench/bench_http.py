"""Requests/s of ``GET /feed.atom``: feedbot's server against nginx serving the static build.

Both run on loopback in one run, on free ports, as subprocesses killed afterwards:
feedbot as ``feedbot serve`` (one process, one event loop: the daemon as it runs)
and nginx with ``worker_processes 1`` over the files ``feedbot build`` wrote from
the same corpus. wrk drives both with the same short, bounded load. Nothing is
installed here: without wrk or nginx (Debian packages ``wrk`` and
``nginx-light``) the benchmark says so and skips.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Figure

NAME = "GET /feed.atom"
CONNECTIONS = 32


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200; RuntimeError if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured."""

    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    note: str  # errors or non-2xx/3xx answers, if any


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _latency_ms(out: str, percent: str) -> float:
    match = re.search(rf"^\s+{percent}%\s+([0-9.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def wrk(
    url: str,
    seconds: int,
    headers: dict[str, str] | None = None,
    *,
    script: Path | None = None,
    connections: int = CONNECTIONS,
) -> WrkResult:
    """One bounded wrk run (one thread, ``connections`` connections, ``--latency``; a
    request counts as timed out, and out of the latencies, only after 30 s, not wrk's
    default 2 s) against ``url``; ``script`` is a wrk Lua script (e.g. one that rotates
    the request path)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "30s"]
    for key, value in (headers or {}).items():
        cmd += ["-H", f"{key}: {value}"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if not match:
        raise RuntimeError(f"cannot read wrk output: {out!r}")
    notes = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "errors" in line]
    return WrkResult(
        float(match.group(1)), _latency_ms(out, "50"), _latency_ms(out, "99"), "; ".join(notes)
    )


def wrk_rate(url: str, seconds: int, headers: dict[str, str] | None = None) -> tuple[float, str]:
    """Requests/s wrk measured, and a note on errors or non-2xx/3xx answers."""
    result = wrk(url, seconds, headers)
    return result.rate, result.note


def nginx_conf(tmp: Path, root: Path, port: int) -> Path:
    """An nginx.conf in ``tmp`` serving ``root`` on ``port`` (the comparison server)."""
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{
        application/atom+xml atom;
        application/rss+xml rss;
        application/feed+json json;
        text/html html;
    }}
    charset utf-8;
    charset_types application/atom+xml application/rss+xml;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        add_header Cache-Control "public, max-age=300";
    }}
}}
"""
    )
    return conf


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a server process (kill it after 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _prepare(tmp: Path, total: int) -> tuple[Path, Path]:
    """Write the corpus and the config, and build the static site from it."""
    from feedbot.articles.corpus import write_corpus
    from feedbot.articles.model import Entry
    from feedbot.config import load_settings
    from feedbot.ingest.files import load_folder
    from feedbot.publish.build import export
    from feedbot.publish.site import MemorySource, Site

    seeds = tmp / "seeds"
    write_corpus(seeds, total, seed=0)
    config = tmp / "feedbot.toml"
    config.write_text(f'[index]\npath = "{seeds}"\n[log]\nlevel = "WARNING"\n')
    settings = load_settings(config)
    articles, _ = load_folder(seeds, max_bytes=settings.index.max_file_bytes)
    www = tmp / "www"
    export(Site(MemorySource([Entry.of(a) for a in articles]), settings.feed), www, progress=False)
    return config, www


def run(quick: bool) -> list[Figure]:
    """Start both servers, drive each with wrk, report the rates and their ratio."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    missing = [name for name, path in (("wrk", shutil.which("wrk")), ("nginx", nginx)) if not path]
    if missing:
        return [
            Figure(
                f"{NAME} (skipped)",
                0.0,
                "",
                detail=f"not installed: {', '.join(missing)} "
                "(apt-get install -y wrk nginx-light); this benchmark installs nothing",
            )
        ]
    total = 300 if quick else 2_000
    seconds = 2 if quick else 5
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="feedbot-bench-http-") as name:
        tmp = Path(name)
        tmp.chmod(0o755)
        config, www = _prepare(tmp, total)
        ours_port, nginx_port = free_port(), free_port()
        ours = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feedbot",
                "--config",
                str(config),
                "serve",
                "--port",
                str(ours_port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs = subprocess.Popen(
            [nginx, "-c", str(nginx_conf(tmp, www, nginx_port)), "-p", str(tmp)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            ours_url = f"http://127.0.0.1:{ours_port}/feed.atom"
            nginx_url = f"http://127.0.0.1:{nginx_port}/feed.atom"
            wait_ready(ours_url, ours)
            wait_ready(nginx_url, theirs)
            ours_resp = httpx.get(ours_url, headers={"accept-encoding": "identity"})
            nginx_resp = httpx.get(nginx_url, headers={"accept-encoding": "identity"})
            same = ours_resp.content == nginx_resp.content
            wrk_rate(ours_url, 1)  # warm up both
            wrk_rate(nginx_url, 1)
            ours_rate, ours_note = wrk_rate(ours_url, seconds)
            nginx_rate, nginx_note = wrk_rate(nginx_url, seconds)
            etag = ours_resp.headers["etag"]
            ours_304, note_304 = wrk_rate(ours_url, seconds, {"If-None-Match": etag})
            nginx_304, _ = wrk_rate(
                nginx_url, seconds, {"If-None-Match": nginx_resp.headers["etag"]}
            )
        finally:
            stop_server(ours)
            stop_server(theirs)
    size = len(ours_resp.content)
    load = f"wrk -t1 -c{CONNECTIONS} -d{seconds}s, loopback, {size:,}-byte body"
    figures.append(
        Figure(
            f"{NAME} feedbot (200)",
            ours_rate,
            "req/s",
            detail=f"feedbot serve: 1 process, uvicorn; {total:,}-article corpus; {load}"
            + (f"; {ours_note}" if ours_note else ""),
        )
    )
    figures.append(
        Figure(
            f"{NAME} nginx (200)",
            nginx_rate,
            "req/s",
            detail="nginx worker_processes 1, sendfile, static build of the same corpus; "
            f"same bytes: {'yes' if same else 'NO'}" + (f"; {nginx_note}" if nginx_note else ""),
        )
    )
    ratio = ours_rate / nginx_rate if nginx_rate else 0.0
    figures.append(Figure(f"{NAME} feedbot/nginx", ratio, "x", goal=">= 0.5x", ok=ratio >= 0.5))
    figures.append(
        Figure(
            f"{NAME} feedbot 304 (If-None-Match)",
            ours_304,
            "req/s",
            goal=f">= 200 rate ({ours_rate:,.0f})",
            ok=ours_304 >= ours_rate,
            detail=f"nginx 304: {nginx_304:,.0f} req/s" + (f"; {note_304}" if note_304 else ""),
        )
    )
    return figures
