"""Inline result ids: at most 64 bytes, as Telegram requires, and distinct per article."""

from __future__ import annotations

from feedbot.telegram.chat.inline import result_id


def test_long_article_ids_become_short_result_ids() -> None:
    assert result_id("001_x") == "001_x"
    long_id = "0" * 100
    assert len(result_id(long_id).encode()) <= 64 and result_id(long_id) != result_id("1" * 100)
