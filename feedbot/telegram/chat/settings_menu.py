"""/settings: one inline-keyboard menu, edited in place, for every setting of a
subscription (language, mode, digest time, timezone, quiet hours, filters, style). The
choice in force in each row is marked ("✓ Instant"), so the buttons show the settings.

Callback data is ``s:<topic>:<version>:<setting>:<value>`` and is checked like user
input: an unknown setting or value, a topic other than the one the menu is in, or a
version other than the subscription's current one (the settings changed since the
menu was drawn) is refused with an answer and changes nothing. The version is also
checked in the same UPDATE that applies the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest
from telegram.ext import ContextTypes

from feedbot.articles.i18n import N_, translator
from feedbot.store.subscriptions import Subscription
from feedbot.telegram.chat.handlerkit import (
    ADMIN_STATUSES,
    BotDeps,
    deps_of,
    language_of,
    refuse_unless_manager,
    reply,
    say,
    thread_of,
)
from feedbot.telegram.chat.settings_view import CHANGES, Context, SettingError, render_settings
from feedbot.telegram.render.messages import LANGUAGE_LABELS
from feedbot.telegram.schedule import DAYS, parse_digest

__all__ = [
    "MARK",
    "Choice",
    "current_choices",
    "keyboard",
    "parse_choice",
    "settings_choice",
    "settings_menu",
]

TIMEZONES: Final = ("UTC", "Europe/Rome", "Europe/London", "America/New_York")
TIMES: Final = ("0700", "0800", "1200", "1800", "2100")
QUIET: Final = "23:00-07:00"
CHOICES: Final[dict[str, tuple[str, ...]]] = {
    "lang": tuple(LANGUAGE_LABELS),
    "mode": ("instant", "daily", "weekly"),
    "time": TIMES,
    "tz": tuple(str(i) for i in range(len(TIMEZONES))),
    "quiet": ("off", "silent", "hold"),
    "flang": ("all", *LANGUAGE_LABELS),
    "fclear": ("1",),
    "style": ("full", "compact", "headlines"),
}
MARK: Final = "✓ "  # before the label of each choice in force
NOT_SUBSCRIBED = N_("This chat is not subscribed. Send /subscribe to subscribe.")


@dataclass(frozen=True, slots=True)
class Choice:
    """A button press, parsed and checked against the known settings and values."""

    thread_id: int
    version: int
    setting: str
    value: str


def parse_choice(data: str) -> Choice | None:
    """The choice in callback ``data``, or None when it is not one we could have drawn."""
    parts = data.split(":")
    if len(parts) != 5 or parts[0] != "s" or len(data) > 64:
        return None
    _, thread, version, setting, value = parts
    if not (thread.isdigit() and version.isdigit()) or value not in CHOICES.get(setting, ()):
        return None
    return Choice(int(thread), int(version), setting, value)


def _command(choice: Choice, sub: Subscription) -> tuple[str, str]:
    """The command (setting, argument) a button stands for."""
    setting, value = choice.setting, choice.value
    current = parse_digest(sub.digest) if sub.digest else None
    clock = current.at.strftime("%H:%M") if current else "08:00"
    day = DAYS[current.weekday] if current and current.weekday is not None else "mon"
    weekly = current is not None and current.weekday is not None and sub.mode == "digest"
    if setting == "lang":
        return "language", value
    if setting == "mode":
        if value == "instant":
            return "digest", "off"
        return "digest", f"daily {clock}" if value == "daily" else f"weekly {day} {clock}"
    if setting == "time":
        at = f"{value[:2]}:{value[2:]}"
        return "digest", f"weekly {day} {at}" if weekly else f"daily {at}"
    if setting == "tz":
        return "timezone", TIMEZONES[int(value)]
    if setting == "quiet":
        return "quiet", "off" if value == "off" else f"{sub.quiet or QUIET} {value}"
    if setting == "flang":
        return "filter", f"lang {value}"
    if setting == "fclear":
        return "filter", "clear"
    return "style", value


def current_choices(sub: Subscription, language: str, default_timezone: str) -> set[str]:
    """The buttons (``setting:value``) that stand for the settings in force: one a row,
    none where no button does (a timezone or a digest time not on the menu), every
    language the article filter takes."""
    schedule = parse_digest(sub.digest) if sub.mode == "digest" and sub.digest else None
    chosen = {f"lang:{sub.language or language}", f"style:{sub.style}"}
    if schedule is None:
        chosen.add("mode:instant")
    else:
        chosen.add("mode:weekly" if schedule.weekday is not None else "mode:daily")
        chosen.add(f"time:{schedule.at.strftime('%H%M')}")
    zone = sub.timezone or default_timezone
    if zone in TIMEZONES:
        chosen.add(f"tz:{TIMEZONES.index(zone)}")
    chosen.add("quiet:off" if sub.quiet is None else f"quiet:{sub.quiet_action}")
    chosen.update(f"flang:{code}" for code in sub.languages or ("all",))
    return chosen


def keyboard(sub: Subscription, language: str, default_timezone: str) -> InlineKeyboardMarkup:
    """The menu's buttons, each carrying the subscription's topic and version; the
    choices in force are marked with `MARK`."""
    _ = translator(language)
    chosen = current_choices(sub, language, default_timezone)

    def button(label: str, setting: str, value: str) -> InlineKeyboardButton:
        data = f"s:{sub.thread_id}:{sub.version}:{setting}:{value}"
        if f"{setting}:{value}" in chosen:
            label = MARK + label
        return InlineKeyboardButton(label, callback_data=data)

    return InlineKeyboardMarkup(
        [
            [button(label, "lang", code) for code, label in LANGUAGE_LABELS.items()],
            [
                button(_("Instant"), "mode", "instant"),
                button(_("Daily digest"), "mode", "daily"),
                button(_("Weekly digest"), "mode", "weekly"),
            ],
            [button(f"{t[:2]}:{t[2:]}", "time", t) for t in TIMES],
            [button(name, "tz", str(i)) for i, name in enumerate(TIMEZONES)],
            [
                button(_("No quiet hours"), "quiet", "off"),
                button(_("Quiet: silent"), "quiet", "silent"),
                button(_("Quiet: hold"), "quiet", "hold"),
            ],
            [
                button(_("All languages"), "flang", "all"),
                *[button(code, "flang", code) for code in LANGUAGE_LABELS],
                button(_("Clear keywords"), "fclear", "1"),
            ],
            [
                button(_("Full"), "style", "full"),
                button(_("Compact"), "style", "compact"),
                button(_("Headlines"), "style", "headlines"),
            ],
        ]
    )


def _menu_text(sub: Subscription, language: str, deps: BotDeps) -> str:
    return render_settings(sub, language, deps.settings.default_timezone)


async def settings_menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the settings in force with buttons to change them."""
    deps, chat = deps_of(context), update.effective_chat
    if chat is None or await refuse_unless_manager(update, context):
        return
    sub = await deps.store.subscription(str(chat.id), thread_of(update.effective_message))
    if sub is None:
        await reply(update, await say(update, deps, NOT_SUBSCRIBED))
        return
    language = await language_of(update, deps)
    await reply(
        update,
        _menu_text(sub, language, deps),
        reply_markup=keyboard(sub, language, deps.settings.default_timezone),
    )


async def settings_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Apply a button press of the menu, after checking it like user input."""
    deps, query, chat = deps_of(context), update.callback_query, update.effective_chat
    if query is None or chat is None:
        return
    language = await language_of(update, deps)
    _ = translator(language)
    choice = parse_choice(query.data or "")
    message = query.message if isinstance(query.message, Message) else None
    if choice is None or message is None:
        await query.answer(_("Unknown choice."))
        return
    if choice.thread_id != thread_of(message):
        await query.answer(_("This button belongs to another chat or topic."))
        return
    if chat.type != ChatType.PRIVATE:
        member = await context.bot.get_chat_member(chat.id, query.from_user.id)
        if member.status not in ADMIN_STATUSES:
            await query.answer(_("Only the administrators of this group can do that."))
            return
    sub = await deps.store.subscription(str(chat.id), choice.thread_id)
    if sub is None:
        await query.answer(_(NOT_SUBSCRIBED))
        return
    if sub.version != choice.version:
        await query.answer(_("This menu is out of date: send /settings again."))
        return
    setting, argument = _command(choice, sub)
    tz = deps.settings.default_timezone
    try:
        values = CHANGES[setting](argument, Context(sub, deps.clock(), tz))
    except SettingError:
        await query.answer(_("Unknown choice."))
        return
    new = await deps.store.update_subscription(str(chat.id), sub.thread_id, sub.version, **values)
    if new is None:
        await query.answer(_("This menu is out of date: send /settings again."))
        return
    language = await language_of(update, deps)
    await query.answer()
    try:
        await query.edit_message_text(
            _menu_text(new, language, deps),
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard(new, language, tz),
        )
    except BadRequest as e:  # the same text and buttons: nothing to show
        if "not modified" not in str(e):
            raise
