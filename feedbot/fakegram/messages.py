"""The messages side of the Bot API emulator: sendMessage, editMessageText and
deleteMessage as Telegram answers them (the HTML and length checks of a text, flood
control in sliding windows), and what the tests read back of what the bot sent.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from typing import Any

from feedbot.fakegram.records import (
    DELETE_AFTER,
    SEND_METHODS,
    ErrorReply,
    JSONDict,
    RequestRecord,
    RetryWindow,
    Sent,
)
from feedbot.fakegram.state import EmulatorState
from feedbot.telegram.render.messages import utf16_len
from feedbot.telegram.render.parse_html import TelegramHTMLError, parse_telegram_html

__all__ = ["MessageHandlers", "check_text"]


def check_text(raw: str, parse_mode: Any) -> tuple[str, list[JSONDict]]:
    """A message text as Telegram checks it (sendMessage, editMessageText, an inline
    result's message_text): the text after entity parsing and its entities, or the 400."""
    mode = str(parse_mode or "")
    text, entities = raw, []
    if mode.lower() == "html":
        try:
            text, parsed = parse_telegram_html(raw)
        except TelegramHTMLError as e:
            raise ErrorReply(400, f"Bad Request: can't parse entities: {e}") from None
        entities = [e.to_dict() for e in parsed]
    if not text.strip():
        raise ErrorReply(400, "Bad Request: message text is empty")
    if utf16_len(text) > 4096:
        raise ErrorReply(400, "Bad Request: message is too long")
    return text, entities


class MessageHandlers(EmulatorState):
    """Sending, editing and deleting messages (a mixin of `FakeBotAPI`)."""

    # ----------------------------------------------------------------- what was sent

    @property
    def sent(self) -> list[Sent]:
        """Messages Telegram accepted (sendMessage), in arrival order."""
        with self._lock:
            return [s for s in self.attempts if s.outcome == "ok" and s.method == "sendmessage"]

    def texts(self, chat_id: int | str) -> list[str]:
        """The HTML texts delivered to a chat."""
        return [s.text for s in self.sent if s.chat_id == chat_id]

    def shown(self, chat_id: int | str) -> dict[int, str]:
        """What a chat shows now: message id → its text (after edits; deletions gone)."""
        with self._lock:
            found = {m: t for (c, m), t in self._texts.items() if c == chat_id}
        return dict(sorted(found.items()))

    def delete(self, chat_id: int | str, message_id: int) -> None:
        """Someone else (an admin, the user) deleted a message the bot had sent."""
        with self._lock:
            self._texts.pop((chat_id, message_id), None)
            self._markups.pop((chat_id, message_id), None)

    def markup(self, chat_id: int | str, message_id: int) -> Any:
        """The reply markup a message shows now (None: none)."""
        with self._lock:
            return self._markups.get((chat_id, message_id))

    def done(self, method: str) -> list[Sent]:
        """Accepted requests of one method (``editmessagetext``, ``deletemessage`` …)."""
        with self._lock:
            return [s for s in self.attempts if s.outcome == "ok" and s.method == method]

    @property
    def count_429(self) -> int:
        with self._lock:
            return sum(1 for s in self.attempts if s.outcome == "429")

    def requests_in_retry_windows(self, grace: float = 0.0) -> list[RequestRecord]:
        """Sending requests that arrived while a 429's retry_after was running (after ``grace``)."""
        with self._lock:
            windows, requests = list(self.retry_windows), list(self.requests)
        return [
            r
            for r in requests
            if r.method in SEND_METHODS
            for w in windows
            if w.start + grace < r.time < w.end and w.chat_id in (None, r.chat_id)
        ]

    # ----------------------------------------------------------------- handlers

    def _check_text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        return check_text(str(params.get("text", "")), params.get("parse_mode"))

    def _flood(self, chat: JSONDict, paid: bool, now: float) -> None:
        """429 when this message would break a sliding window; else count it."""
        lim = self.limits
        cid = chat["id"]
        per_chat, period = (lim.private_per_second, 1.0)
        if chat["type"] != "private":
            per_chat, period = lim.group_per_minute, 60.0
        overall = lim.paid_per_second if paid else lim.global_per_second
        checks: list[tuple[deque[float], int, float, int | None]] = []
        if overall is not None:
            checks.append((self._global, overall, 1.0, None))
        if per_chat is not None:
            checks.append((self._per_chat.setdefault(cid, deque()), per_chat, period, cid))
        # Requests are checked in the order they are handled, which under load is not
        # quite their arrival order: keep each window sorted and count only arrivals in
        # (now - span, now], or a late-handled early arrival would see a phantom flood.
        for window, limit, span, scope in checks:
            while window and window[0] <= now - span:
                window.popleft()
            upto = bisect.bisect_right(window, now)
            if upto >= limit:
                retry = max(1, math.ceil(window[upto - limit] + span - now))
                self.retry_windows.append(RetryWindow(now, now + retry, scope))
                raise ErrorReply(
                    429, f"Too Many Requests: retry after {retry}", {"retry_after": retry}
                )
        for window, *_ in checks:
            bisect.insort(window, now)

    async def _send_message(self, params: JSONDict, chat_id: Any, now: float) -> JSONDict:
        if self.latency:
            await self._sleep(self.latency)
        try:
            chat = self._resolve(params.get("chat_id"))
            with self._lock:
                if chat["id"] in self._blocked:
                    raise ErrorReply(403, self._forbidden(chat))
            text, entities = self._check_text(params)
            if (thread_error := self.thread_error(chat, params)) is not None:
                raise ErrorReply(400, thread_error)
            with self._lock:
                self._flood(chat, params.get("allow_paid_broadcast") in (True, "true"), now)
        except ErrorReply as r:
            outcome = {400: "400", 403: "403", 429: "429"}.get(r.status, str(r.status))
            if r.parameters and "migrate_to_chat_id" in r.parameters:
                outcome = "migrated"
            self._record("sendmessage", params, chat_id, now, outcome, r.description)
            raise
        message_id = self.next_message_id(chat["id"])
        sent = self._record("sendmessage", params, chat["id"], now, "ok", "")
        sent.message_id = message_id
        with self._lock:
            self._texts[(chat["id"], message_id)] = text
            self._markups[(chat["id"], message_id)] = params.get("reply_markup")
            self._sent_at[(chat["id"], message_id)] = self.wall_clock()
        message: JSONDict = {"message_id": message_id, "date": int(time.time()), "chat": chat}
        if chat["type"] != "channel":
            message["from"] = self.bot_user
        message["text"] = text
        if entities:
            message["entities"] = entities
        self.mark_thread(message, params)
        return message

    async def _edit_message_text(self, params: JSONDict, chat_id: Any, now: float) -> Any:
        if params.get("inline_message_id"):
            self._check_text(params)
            return True
        try:
            chat = self._resolve(params.get("chat_id"))
            key = (chat["id"], int(params.get("message_id") or 0))
            with self._lock:
                if chat["id"] in self._blocked:
                    raise ErrorReply(403, self._forbidden(chat))
            text, entities = self._check_text(params)
            markup = params.get("reply_markup")
            with self._lock:
                old = self._texts.get(key)
                if old is None:
                    raise ErrorReply(400, "Bad Request: message to edit not found")
                if old == text and self._markups.get(key) == markup:
                    raise ErrorReply(
                        400,
                        "Bad Request: message is not modified: specified new message content and "
                        "reply markup are exactly the same as a current content and reply markup "
                        "of the message",
                    )
                self._flood(chat, False, now)  # edits count; Telegram sells no paid edits
                self._texts[key] = text
                self._markups[key] = markup
        except ErrorReply as r:
            self._record("editmessagetext", params, chat_id, now, str(r.status), r.description)
            raise
        sent = self._record("editmessagetext", params, chat["id"], now, "ok", "")
        sent.message_id = key[1]
        message: JSONDict = {"message_id": key[1], "date": int(time.time()), "chat": chat}
        message.update({"from": self.bot_user, "text": text, "edit_date": int(time.time())})
        if entities:
            message["entities"] = entities
        return message

    async def _delete_message(self, params: JSONDict, chat_id: Any, now: float) -> bool:
        try:
            chat = self._resolve(params.get("chat_id"))
            key = (chat["id"], int(params.get("message_id") or 0))
            with self._lock:
                if chat["id"] in self._blocked:
                    raise ErrorReply(403, self._forbidden(chat))
                if key not in self._texts:
                    raise ErrorReply(400, "Bad Request: message to delete not found")
                if self.wall_clock() - self._sent_at.get(key, 0.0) >= DELETE_AFTER:
                    raise ErrorReply(400, "Bad Request: message can't be deleted")
                self._flood(chat, False, now)
                del self._texts[key]
                self._markups.pop(key, None)
        except ErrorReply as r:
            self._record("deletemessage", params, chat_id, now, str(r.status), r.description)
            raise
        sent = self._record("deletemessage", params, chat["id"], now, "ok", "")
        sent.message_id = key[1]
        return True
