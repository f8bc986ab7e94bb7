"""The emulator's records and constants: its limits and faults, what it remembers of each
request (`Sent`, `RequestRecord`, `RetryWindow`), the `ErrorReply` a handler raises to
answer with an error, the `Observer` a caller may hook onto every handled call, and the
helpers that decode a request's parameters.
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_TOKEN",
    "DELETE_AFTER",
    "REQUEST_REPLICA",
    "SEND_METHODS",
    "Call",
    "ErrorReply",
    "FakeLimits",
    "Faults",
    "InlineAnswer",
    "JSONDict",
    "Observer",
    "RequestRecord",
    "RetryWindow",
    "Sent",
    "chat_id_param",
    "decode_param",
    "member_object",
]

# Shaped like a real token but assembled, so no token-shaped literal is in the repo.
DEFAULT_TOKEN = "123456789:" + "AA" + "FakeTokenForTestsOnly_abcdefghijk"
SEND_METHODS = frozenset({"sendmessage", "editmessagetext", "deletemessage"})
DELETE_AFTER = 48 * 3600.0  # seconds after which a bot may no longer delete its message
JSONDict = dict[str, Any]
# Which client sent the request being handled: several processes (replicas) can share one
# fake, each with its own base URL ``…/r/<name>/bot`` (`FakeBotAPI.base_url_for`).
REQUEST_REPLICA: contextvars.ContextVar[str] = contextvars.ContextVar("replica", default="")
# Told of every call that reached its handler: (method, params, result, status, description);
# result is None and status the error's when the emulator refused (`FakeBotAPI.add_observer`).
Observer = Callable[[str, JSONDict, Any, int, str], None]


@dataclass(frozen=True)
class FakeLimits:
    """Flood control. ``None`` switches a limit off."""

    global_per_second: int | None = 30
    group_per_minute: int | None = 20  # per group or channel (negative chat id)
    private_per_second: int | None = None  # per private chat; off like Telegram's soft limit
    paid_per_second: int = 1000  # applies instead of global_per_second with allow_paid_broadcast
    inline_answer_timeout: float = 10.0  # seconds to answer an inline query, else it is too old


@dataclass(frozen=True)
class Faults:
    """Random faults on ``methods``: with probability ``rate`` one of ``kinds`` happens."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("5xx", "timeout", "429")
    seed: int = 0
    retry_after: int = 1
    timeout_delay: float = 6.0  # longer than the client's read timeout
    timeout_delivers: bool = False  # a timed-out message was delivered anyway (a duplicate risk)
    methods: frozenset[str] = SEND_METHODS


@dataclass
class Sent:
    """One sendMessage/editMessageText attempt and what came of it."""

    method: str
    chat_id: int | str
    text: str
    parse_mode: str | None
    time: float  # time.monotonic() at arrival
    outcome: str  # ok, 400, 403, 429, 5xx, timeout, migrated
    description: str = ""
    message_id: int | None = None
    params: JSONDict = field(default_factory=dict)
    replica: str = ""  # the client's name from its base URL ("" for the plain one)


@dataclass(frozen=True)
class Call:
    """One request as it arrived, before it was answered (`FakeBotAPI.calls`)."""

    method: str  # lower case: "getupdates", "sendmessage", …
    time: float  # the emulator's clock at arrival
    replica: str  # the client's name from its base URL ("" for the plain one)
    offset: int | None = None  # getUpdates: the offset it confirms up to (None: not given)


@dataclass(frozen=True)
class InlineAnswer:
    """The bot's answerInlineQuery for one inline query (`FakeBotAPI.inline_answer`)."""

    query_id: str
    results: list[JSONDict]  # as the bot sent them
    next_offset: str = ""  # "": no more results
    cache_time: int = 300
    is_personal: bool = False
    button: JSONDict | None = None  # an InlineQueryResultsButton
    time: float = 0.0  # the emulator's clock at arrival


@dataclass(frozen=True)
class RequestRecord:
    method: str
    time: float
    chat_id: int | str | None
    status: int
    replica: str = ""


@dataclass(frozen=True)
class RetryWindow:
    """A 429 told the client not to send (to ``chat_id``, or at all if None) until ``end``."""

    start: float
    end: float
    chat_id: int | str | None


class ErrorReply(Exception):
    """Raised by a handler: answer the request with this error (status, description, parameters)."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None):
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def decode_param(value: Any) -> Any:
    """Form values are strings, nested objects JSON strings; JSON bodies are typed."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def chat_id_param(value: Any) -> int | str:
    """A ``chat_id`` parameter as the emulator keys chats: an int, or an ``@username``."""
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def member_object(user: JSONDict, status: str) -> JSONDict:
    """A ChatMember object as Telegram sends it."""
    m: JSONDict = {"status": status, "user": user}
    if status == "creator":
        m["is_anonymous"] = False
    elif status == "administrator":
        perms = ["can_be_edited", "is_anonymous", "can_manage_chat", "can_delete_messages"]
        perms += ["can_manage_video_chats", "can_restrict_members", "can_promote_members"]
        perms += ["can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories"]
        perms.append("can_delete_stories")
        m.update({p: p not in ("can_be_edited", "is_anonymous") for p in perms})
    elif status == "kicked":
        m["until_date"] = 0
    return m
