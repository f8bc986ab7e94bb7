"""`feedbot check` and `feedbot show`, through click's runner and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from feedbot.cli import cli
from tests.conftest import ROOT, SEED, SEEDS

GOLDEN = ROOT / "tests" / "data" / "seed.json"
GOOD = b"date 2022-01-14 Headline\n\nBody text.\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _index(tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "001_a.txt").write_bytes(GOOD)
    (folder / "002_b.txt").write_bytes(b"date 2022-13-45 Bad date\n")
    (folder / "003_c.txt").write_bytes(b"date 2022-01 Caff\xe8\n")
    (folder / ".004_hidden.txt").write_bytes(b"garbage")
    return folder


def test_check_default_index_is_the_seeds(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    assert result.output == "1 article file checked: 1 good, 0 bad\n"


def test_check_reports_each_bad_file(runner: CliRunner, tmp_path: Path) -> None:
    folder = _index(tmp_path)
    result = runner.invoke(cli, ["check", str(folder)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{folder / '002_b.txt'}:1: impossible date")
    assert lines[1].startswith(f"{folder / '003_c.txt'}:1: invalid UTF-8 at byte offset 17")
    assert lines[2] == "3 article files checked: 1 good, 2 bad"


def test_check_files_and_folders_mixed(runner: CliRunner, tmp_path: Path) -> None:
    folder = _index(tmp_path)
    result = runner.invoke(cli, ["check", str(folder / "001_a.txt"), str(SEEDS)])
    assert result.exit_code == 0
    assert result.output.endswith("2 article files checked: 2 good, 0 bad\n")


def test_check_uses_configured_index_and_limit(runner: CliRunner, tmp_path: Path) -> None:
    folder = _index(tmp_path)
    env = {"FEEDBOT_INDEX__PATH": str(folder), "FEEDBOT_INDEX__MAX_FILE_BYTES": "10"}
    result = runner.invoke(cli, ["check"], env=env)
    assert result.exit_code == 1
    assert f"{folder / '001_a.txt'}:0: file is 37 bytes, over the limit of 10" in result.output


def test_check_missing_path_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["check", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.output


def test_show_json_matches_golden(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["show", "--json", str(SEED)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data == json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert data["date"] == "2022-01"
    assert data["sections"][0]["heading"] is None
    assert {b["kind"] for s in data["sections"] for b in s["blocks"]} == {
        "paragraph",
        "quote_intro",
        "quote",
        "caption",
    }


def test_show_by_id_looks_in_the_index(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = runner.invoke(cli, ["show", "000_52a7b11c330feae9"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "È iniziato il ritiro dei militari russi dal Kazakhstan."
    assert "date 2022-01 (month)" in lines[1]
    assert "language it" in lines[1]
    assert "§1 CSTO: nuovi rapporti di forza?" in lines
    assert any(line.startswith("  [caption] line 15: Il comandante") for line in lines)
    assert any(line.startswith("  summary: Familiari e compagni") for line in lines)
    assert "\x1b[" not in result.output  # plain when not a terminal


def test_show_unknown_id_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["show", "nope"], env={"FEEDBOT_INDEX__PATH": str(tmp_path)})
    assert result.exit_code == 2
    assert "no article file or id 'nope'" in result.output


def test_show_bad_article_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    folder = _index(tmp_path)
    result = runner.invoke(cli, ["show", "002_b"], env={"FEEDBOT_INDEX__PATH": str(folder)})
    assert result.exit_code == 1
    assert "002_b.txt:1: impossible date" in result.output


def test_real_process_check_and_show(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "FEEDBOT_INDEX__PATH": str(SEEDS)}
    check = subprocess.run(
        [sys.executable, "-m", "feedbot", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout == "1 article file checked: 1 good, 0 bad\n"
    show = subprocess.run(
        [sys.executable, "-m", "feedbot", "show", "--json", "000_52a7b11c330feae9"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert show.returncode == 0, show.stderr
    assert json.loads(show.stdout) == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_check_and_show_say_when_an_article_is_scheduled(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "001_future.txt"
    path.write_bytes(b"date 2999-12-01T08:00:00+01:00 Headline\n\nBody text.\n")
    (tmp_path / "002_past.txt").write_bytes(b"date 2020-12-01T08:00:00+01:00 Headline\n\nBody.\n")
    result = runner.invoke(cli, ["check", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"{path}: scheduled for 2999-12-01T07:00:00Z"
    assert "002_past" not in result.output
    shown = runner.invoke(cli, ["show", str(path)])
    assert "scheduled for 2999-12-01T07:00:00Z: not published before then" in shown.output
    past = runner.invoke(cli, ["show", str(tmp_path / "002_past.txt")])
    assert past.exit_code == 0 and "scheduled" not in past.output


def test_preview_prints_the_post_as_telegram_shows_it_and_its_html(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedbot.articles.parse import parse
    from feedbot.config import FeedSettings
    from feedbot.publish.feeds import article_url
    from feedbot.telegram.render.messages import render_post
    from feedbot.telegram.render.parse_html import parse_telegram_html

    monkeypatch.chdir(ROOT)
    article = parse(SEED.name, SEED.read_bytes())
    pieces = render_post(article, url=article_url(FeedSettings(), article.id), language="it")
    raw = runner.invoke(cli, ["preview", str(SEED), "--html", "--lang", "it"])
    assert raw.exit_code == 0, raw.output
    assert raw.output == "<!-- message 1 -->\n" + pieces[0] + "\n"

    shown = runner.invoke(cli, ["preview", SEED.stem, "--lang", "it"])
    assert shown.exit_code == 0, shown.output
    assert shown.output.rstrip("\n") == parse_telegram_html(pieces[0])[0]

    monkeypatch.setenv("FEEDBOT_TELEGRAM__BUTTON", "instead")
    monkeypatch.setenv("FEEDBOT_TELEGRAM__TEMPLATE", "<i>{{ headline }}</i> — {{ feed_title }}")
    custom = runner.invoke(cli, ["preview", SEED.stem])
    assert custom.exit_code == 0, custom.output
    headline = " ".join(article.headline.split())
    assert custom.output.splitlines()[:2] == [f"{headline} — feedbot", "[ Read the article ]"]

    monkeypatch.setenv("FEEDBOT_TELEGRAM__TEMPLATE", "<p>{{ headline }}</p>")
    bad = runner.invoke(cli, ["preview", SEED.stem])
    assert bad.exit_code == 2
    assert bad.output.startswith("feedbot: error: telegram.template makes invalid Telegram HTML")


def test_preview_shows_a_subscription_style(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedbot.articles.model import Entry
    from feedbot.articles.parse import parse
    from feedbot.config import FeedSettings
    from feedbot.publish.feeds import article_url
    from feedbot.telegram.render.styles import render_styled

    monkeypatch.chdir(ROOT)
    entry = Entry.of(parse(SEED.name, SEED.read_bytes()))
    url = article_url(FeedSettings(), entry.article.id)
    for style in ("compact", "headlines"):
        pieces = render_styled(entry, url=url, language="it", style=style)
        raw = runner.invoke(cli, ["preview", SEED.stem, "--html", "--lang", "it", "--style", style])
        assert raw.exit_code == 0, raw.output
        assert (
            raw.output
            == "\n\n".join(f"<!-- message {n} -->\n{p}" for n, p in enumerate(pieces, 1)) + "\n"
        )
    assert (
        "expandable"
        in runner.invoke(cli, ["preview", SEED.stem, "--html", "--style", "compact"]).output
    )
    bad = runner.invoke(cli, ["preview", SEED.stem, "--style", "tiny"])
    assert bad.exit_code == 2 and "tiny" in bad.output
