"""The file-reading edge: listing, reading with a size check, loading a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedbot.errors import ArticleError
from feedbot.ingest.files import SYMLINK_OFF, list_article_files, load_folder, read_article
from tests.conftest import SEED

GOOD = b"date 2022-01-14 Headline\n\nBody text.\n"


def _folder(tmp_path: Path) -> Path:
    for name, data in {
        "002_b.txt": GOOD,
        "001_a.txt": GOOD,
        "003_bad.txt": b"no date here\n",
        ".hidden.txt": GOOD,
        "004_c.txt.tmp": GOOD,
        "005_d.txt~": GOOD,
        "notes.md": GOOD,
    }.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "sub.txt").mkdir()  # a folder named like an article is not one
    return tmp_path


def test_list_article_files_sorted_and_filtered(tmp_path: Path) -> None:
    names = [p.name for p in list_article_files(_folder(tmp_path))]
    assert names == ["001_a.txt", "002_b.txt", "003_bad.txt"]


def test_list_missing_folder_is_an_article_error(tmp_path: Path) -> None:
    with pytest.raises(ArticleError) as info:
        list_article_files(tmp_path / "nope")
    assert info.value.path == str(tmp_path / "nope")


def test_read_article_seed() -> None:
    article = read_article(SEED)
    assert article.id == "000_52a7b11c330feae9"
    assert article.language == "it"


def test_read_article_checks_size_first(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(GOOD + b"x" * 100)
    with pytest.raises(ArticleError) as info:
        read_article(path, max_bytes=50)
    assert info.value.line == 0
    assert "limit" in info.value.message


def test_read_article_oserror_becomes_article_error(tmp_path: Path) -> None:
    with pytest.raises(ArticleError) as info:
        read_article(tmp_path / "missing.txt")
    assert "cannot read" in info.value.message
    assert str(info.value).startswith(f"{tmp_path / 'missing.txt'}:0: ")


def test_read_article_on_a_folder(tmp_path: Path) -> None:
    (tmp_path / "dir.txt").mkdir()
    with pytest.raises(ArticleError) as info:
        read_article(tmp_path / "dir.txt")
    assert info.value.message == "not a regular file (a directory)"


def test_load_folder_reports_bad_files_and_keeps_the_good(tmp_path: Path) -> None:
    articles, errors = load_folder(_folder(tmp_path))
    assert [a.id for a in articles] == ["001_a", "002_b"]
    assert [(Path(e.path).name, e.line) for e in errors] == [("003_bad.txt", 1)]


def test_load_folder_size_limit(tmp_path: Path) -> None:
    (tmp_path / "1.txt").write_bytes(GOOD)
    articles, errors = load_folder(tmp_path, max_bytes=10)
    assert articles == []
    assert errors[0].line == 0


def test_load_folder_follows_the_index_rules_for_links(tmp_path: Path) -> None:
    index = tmp_path / "index"
    index.mkdir()
    (tmp_path / "secret.txt").write_bytes(GOOD)
    (index / "001_a.txt").write_bytes(GOOD)
    (index / "002_in.txt").symlink_to(index / "001_a.txt")
    (index / "003_out.txt").symlink_to(tmp_path / "secret.txt")
    articles, errors = load_folder(index)
    assert [a.id for a in articles] == ["001_a"]
    assert [e.message for e in errors] == [SYMLINK_OFF, SYMLINK_OFF]
    articles, errors = load_folder(index, follow_symlinks=True)
    assert [a.id for a in articles] == ["001_a", "002_in"]
    assert [e.message for e in errors] == ["the symbolic link points outside the index folder"]
    assert read_article(index / "003_out.txt").id == "003_out"  # a file named outright is read
