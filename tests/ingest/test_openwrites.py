"""Files open in their writer: held until closed, released once after the timeout."""

from __future__ import annotations

import logging

import pytest

from feedbot.ingest.openwrites import OpenWrites
from feedbot.ingest.watch import Changes


def batch(writing: set[str] = set(), ended: set[str] = set(), reset: bool = False) -> Changes:  # noqa: B006
    return Changes(writing=set(writing), ended=set(ended), reset=reset)


def test_held_from_the_first_write_to_the_close() -> None:
    w = OpenWrites(600)
    assert w.held(0) == () and w.next_release(0) is None
    w.fold(batch({"001_a.txt", "002_b.txt"}), 10)
    assert w.held(500) == {"001_a.txt", "002_b.txt"}
    w.fold(batch(ended={"001_a.txt"}), 510)  # closed (or renamed in, removed, moved out)
    assert w.held(520) == {"002_b.txt"} and len(w) == 1
    w.fold(batch({"001_a.txt"}), 530)  # opened and written again
    assert w.held(540) == {"001_a.txt", "002_b.txt"}


def test_a_writer_that_never_closes_is_released_once_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    w = OpenWrites(600)
    w.fold(batch({"001_a.txt", "002_\nb.txt"}), 0)
    w.fold(batch({"001_a.txt"}), 100)  # each write starts the wait again
    assert w.next_release(300) == pytest.approx(300)
    with caplog.at_level(logging.WARNING, "feedbot.index"):
        assert w.held(599.9) == {"001_a.txt", "002_\nb.txt"}
        assert caplog.records == []
        assert w.held(600) == {"001_a.txt"}
        assert w.held(601) == {"001_a.txt"}  # warned once: no longer held
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert message.startswith("002_\\nb.txt: still open for writing, with no write for 600.0s")
    assert "no close" in message and "index.open_write_timeout" in message
    assert w.next_release(601) == pytest.approx(99)
    assert w.held(700) == frozenset() and w.next_release(700) is None


def test_a_new_folder_or_a_stopped_watcher_forgets_everything() -> None:
    w = OpenWrites(600)
    w.fold(batch({"001_a.txt"}), 0)
    w.fold(batch({"002_b.txt"}, reset=True), 1)  # the folder was replaced, then 002 written
    assert w.held(2) == {"002_b.txt"}
    w.forget()
    assert w.held(3) == () and w.next_release(3) is None
