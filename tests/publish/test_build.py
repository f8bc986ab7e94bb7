"""The static export: the bytes the server serves, written atomically, only when changed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from feedbot.config import Settings
from feedbot.errors import FeedbotError
from feedbot.publish.build import export
from feedbot.publish.site import MemorySource, Site
from tests.sitekit import entries

SETTINGS = Settings(feed={"max_entries": 5})


def tree(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_export_writes_the_site(tmp_path: Path) -> None:
    site = Site(MemorySource(entries(23)), SETTINGS.feed)
    report = export(site, tmp_path / "out", progress=False)
    files = tree(tmp_path / "out")
    assert set(files) == set(site.paths())
    for path, data in files.items():
        resource = site.get(path)
        assert resource is not None and resource.body == data
    assert report.written == len(files) and report.unchanged == 0 and report.removed == 0
    assert report.total_bytes == sum(len(d) for d in files.values())
    assert {"index.html", "page/2.html", "feed.atom", "archive/4.json"} <= set(files)
    assert not [p for p in (tmp_path / "out").rglob("*.tmp")]  # no temp files left
    assert oct((tmp_path / "out" / "feed.atom").stat().st_mode & 0o777) == "0o644"


def test_unchanged_files_are_not_rewritten(tmp_path: Path) -> None:
    out = tmp_path / "site"
    export(Site(MemorySource(entries(8)), SETTINGS.feed), out, progress=False)
    old = 1_000_000_000
    for p in out.rglob("*"):
        if p.is_file():
            os.utime(p, (old, old))
    report = export(Site(MemorySource(entries(9)), SETTINGS.feed), out, progress=False)
    # One new article: its page, the main feeds, index, the changed archive are written ...
    changed = {
        str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.stat().st_mtime != old
    }
    assert "articles/008_0000000000000008.html" in changed
    assert {"feed.atom", "feed.rss", "feed.json", "index.html"} <= changed
    # ... the other article pages keep their bytes and their mtime.
    assert "articles/000_0000000000000000.html" not in changed
    assert report.written == len(changed)
    assert report.unchanged == report.total - report.written > 0
    again = export(Site(MemorySource(entries(9)), SETTINGS.feed), out, progress=False)
    assert again.written == 0 and again.unchanged == again.total


def test_stale_pages_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "site"
    export(
        Site(MemorySource(entries(30)), Settings(feed={"max_entries": 5}).feed), out, progress=False
    )
    assert (out / "articles/029_000000000000001d.html").exists()
    assert (out / "archive/5.atom").exists() and (out / "page/2.html").exists()
    (out / "articles" / "notes.txt").write_text("mine")  # not ours: never touched
    (out / "CNAME").write_text("news.example")
    report = export(Site(MemorySource(entries(3)), SETTINGS.feed), out, progress=False)
    files = set(tree(out))
    assert files == set(Site(MemorySource(entries(3)), SETTINGS.feed).paths()) | {
        "articles/notes.txt",
        "CNAME",
    }
    # article pages, archives, page/2.html, and the same archives of the Italian feed
    assert report.removed == 27 + 5 * 3 + 1 + 5 * 3


def test_atomic_write_leaves_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "site"
    export(Site(MemorySource(entries(2)), SETTINGS.feed), out, progress=False)
    before = (out / "feed.atom").read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device", dst)

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(FeedbotError, match="No space left on device"):
        export(Site(MemorySource(entries(3)), SETTINGS.feed), out, progress=False)
    assert (out / "feed.atom").read_bytes() == before  # the old file is whole
    assert not list(out.rglob("*.tmp"))


def test_unwritable_target(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(FeedbotError, match="cannot write"):
        export(Site(MemorySource(entries(1)), SETTINGS.feed), blocker / "out", progress=False)


def _config(tmp_path: Path, index: Path) -> Path:
    config = tmp_path / "feedbot.toml"
    config.write_text(f'[index]\npath = "{index}"\n[feed]\nmax_entries = 5\n')
    return config


def test_cli_build(tmp_path: Path, seed_bytes: bytes) -> None:
    from click.testing import CliRunner

    from feedbot.cli import cli

    index = tmp_path / "seeds"
    index.mkdir()
    (index / "000_52a7b11c330feae9.txt").write_bytes(seed_bytes)
    (index / "001_broken.txt").write_bytes(b"\xff\xfe not utf-8")
    out = tmp_path / "public"
    args = ["--config", str(_config(tmp_path, index)), "build", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output  # built, but a file was bad
    assert f"{index / '001_broken.txt'}:" in result.stderr
    # the feeds, the index, the page, and robots, OPML, both sitemaps, the Italian feeds
    assert "built 12 files" in result.stderr and "12 written" in result.stderr
    assert (out / "articles" / "000_52a7b11c330feae9.html").exists()
    assert (out / "feed.atom").read_bytes().startswith(b"<?xml")
    (index / "001_broken.txt").unlink()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and "0 written, 12 unchanged, 0 removed" in again.stderr


def test_cli_build_leaves_scheduled_articles_out(tmp_path: Path, seed_bytes: bytes) -> None:
    from click.testing import CliRunner

    from feedbot.cli import cli

    index = tmp_path / "seeds"
    index.mkdir()
    (index / "000_52a7b11c330feae9.txt").write_bytes(seed_bytes)
    (index / "001_future.txt").write_bytes(b"date 2999-01-01T09:00:00Z Not yet\n\nBody.\n")
    out = tmp_path / "public"
    args = ["--config", str(_config(tmp_path, index)), "build", "--out", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "1 scheduled article(s) left out until their date" in result.stderr
    assert (out / "articles" / "000_52a7b11c330feae9.html").exists()
    assert not (out / "articles" / "001_future.html").exists()
    assert b"Not yet" not in (out / "feed.atom").read_bytes()


def test_cli_build_missing_index(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from feedbot.cli import cli

    config = _config(tmp_path, tmp_path / "nowhere")
    result = CliRunner().invoke(cli, ["--config", str(config), "build", "--out", "x"])
    assert result.exit_code == 2
    assert result.stderr.startswith("feedbot: error: ") and "Traceback" not in result.stderr


def test_quiet_when_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export(Site(MemorySource(entries(30)), SETTINGS.feed), tmp_path / "out", progress=None)
    export(Site(MemorySource(entries(31)), SETTINGS.feed), tmp_path / "out2", progress=True)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
