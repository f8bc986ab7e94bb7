"""The indexer's compact record of the files the store knows (`KnownFiles`)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from feedbot.store.known import Known, KnownFiles

INT64 = st.integers(-(2**63), 2**63 - 1)


ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=80)  # lone surrogates too


@given(ANY_TEXT, ANY_TEXT, INT64, INT64, ANY_TEXT)
@example("001_a.txt", "001_a", 10, 1_700_000_000_000_000_000, "00ff" * 8)
@example("b.txt", "b", 0, 0, "ABCDEF")  # hex digits, but not lowercase
@example("c.txt", "c", 1, 1, "abc")  # an odd count of hex digits
@example("d.txt", "d", 1, 1, "ab cd")  # fromhex skips spaces: not digits alone
@example("e.txt", "é", 1, 1, "")
@example("f.txt", "f.txt", 1, 1, "")  # the id is the name
@example("g.md", "g", 1, 1, "")  # the name without its suffix, but not an article's
@example(".txt", "", 1, 1, "")  # the id is the name without .txt, and empty
@example("\udcff.txt", "\udcff", 1, 1, "\udcfe")  # os.fsdecode's surrogates
def test_a_file_reads_back_as_it_was_written(
    name: str, article_id: str, size: int, mtime_ns: int, content_hash: str
) -> None:
    known = Known(article_id, size, mtime_ns, content_hash)
    files = KnownFiles([(name, known)])
    assert files[name] == known and files.get(name) == known
    assert files.stat(name) == (size, mtime_ns)
    assert dict(files) == {name: known}


def test_files_are_added_replaced_and_removed_by_name() -> None:
    files = KnownFiles()
    files["a.txt"] = Known("a", 1, 2, "aa")
    files["b.txt"] = Known("b", 3, 4, "bb")
    files["a.txt"] = Known("a", 5, 6, "cc")
    assert len(files) == 2 and list(files) == ["a.txt", "b.txt"]
    assert files["a.txt"] == Known("a", 5, 6, "cc")
    del files["b.txt"]
    assert "b.txt" not in files and files.get("b.txt") is None and files.stat("b.txt") is None
    assert files.get("b.txt", Known("x", 0, 0, "")) == Known("x", 0, 0, "")
    assert dict(files) == {"a.txt": Known("a", 5, 6, "cc")}
