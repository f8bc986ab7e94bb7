"""The playground's chats and its simulated user: which chats the chat list shows, and
the error a request the playground refuses raises (its message is shown to the page)."""

from __future__ import annotations

from dataclasses import dataclass

from feedbot.errors import FeedbotError

__all__ = ["DEFAULT_CHANNEL", "USER_ID", "PlaygroundChat", "PlaygroundError", "playground_chats"]

USER_ID = 7001  # the simulated user; its private chat has the same id
DEFAULT_CHANNEL = "@feedbot_playground"


class PlaygroundError(FeedbotError):
    """A request the playground refuses; the message says why (shown to the page), the
    status is the HTTP answer (400, or 429 when too many of a kind are waiting)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class PlaygroundChat:
    """One chat of the chat list."""

    id: int
    type: str  # private, supergroup, channel
    title: str
    topics: tuple[tuple[int, str], ...] = ()  # forum topics: (message_thread_id, name)
    username: str = ""

    @property
    def forum(self) -> bool:
        return bool(self.topics)


def playground_chats(title: str, channel: str) -> tuple[PlaygroundChat, ...]:
    """The private chat (``title``: the feed's), the group, the forum with two topics, and
    ``channel`` (the first of ``telegram.channels``: an @username or a numeric id)."""
    channel_id, username = -1001000000103, ""
    if channel.lstrip("-").isdigit():
        channel_id = int(channel)
    else:
        username = channel.removeprefix("@")
    return (
        PlaygroundChat(USER_ID, "private", title),
        PlaygroundChat(-1001000000101, "supergroup", "Playground group"),
        PlaygroundChat(
            -1001000000102, "supergroup", "Playground forum", ((2, "News"), (3, "Chat"))
        ),
        PlaygroundChat(channel_id, "channel", username or f"Channel {channel_id}", (), username),
    )
