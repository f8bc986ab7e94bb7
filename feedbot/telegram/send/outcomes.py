"""What Telegram's answers mean, shared by the sender and the editor — pure.

A chat id as the Bot API wants it, what an error means for the row that caused it
(gone, bug, retry, failed), how long to wait before trying again, and the digest
that says which version of a post a chat's messages show.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import timedelta

from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError

__all__ = ["backoff", "chat_id_for_api", "classify_error", "post_digest"]


def chat_id_for_api(chat: str) -> int | str:
    """Numeric chat ids go to the API as numbers, ``@usernames`` as text."""
    body = chat[1:] if chat.startswith("-") else chat
    return int(chat) if body.isdigit() else chat


def classify_error(error: TelegramError) -> str:
    """What a Telegram error means for a delivery: gone, bug, retry or failed."""
    text = str(error).lower()
    if isinstance(error, Forbidden):
        return "gone"
    if isinstance(error, BadRequest):
        if "chat not found" in text or "user is deactivated" in text:
            return "gone"
        if "can't parse entities" in text or "message is too long" in text:
            return "bug"
        return "failed"
    if isinstance(error, NetworkError):  # TimedOut, 5xx, connection errors
        return "retry"
    return "failed"


def backoff(attempts: int) -> timedelta:
    """2, 4, 8, … seconds, at most five minutes."""
    return timedelta(seconds=min(300, 2**attempts))


def post_digest(pieces: Sequence[str]) -> str:
    """Which version of a post some messages show (recorded with each send and edit)."""
    return hashlib.sha256("\x1e".join(pieces).encode("utf-8", "surrogatepass")).hexdigest()[:32]
