"""A subscription's settings for people — pure: what a command or a button asks for
becomes checked values for the store, and the settings in force become a reply.

Commands and the /settings buttons go through the same functions, so a value set
either way is checked the same way. A bad value raises `SettingError` carrying the
usage message (a msgid) to answer with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from feedbot.articles.filters import MAX_TERM_LENGTH, MAX_TERMS, FilterError, parse_terms
from feedbot.articles.i18n import CATALOG_LANGUAGES, N_, language_name, translator
from feedbot.store.subscriptions import Subscription
from feedbot.telegram.render.messages import escape, render_text
from feedbot.telegram.render.styles import STYLES
from feedbot.telegram.schedule import (
    ScheduleError,
    next_digest,
    parse_digest,
    parse_quiet,
    timezone,
)

__all__ = [
    "DIGEST_USAGE",
    "FILTER_USAGE",
    "QUIET_USAGE",
    "STYLE_USAGE",
    "TIMEZONE_USAGE",
    "SettingError",
    "digest_values",
    "filter_values",
    "quiet_values",
    "render_settings",
    "style_values",
    "timezone_values",
]

DIGEST_USAGE: Final = N_(
    "Usage: /digest off, /digest daily HH:MM or /digest weekly <day> HH:MM — "
    "for example /digest daily 08:00 or /digest weekly mon 08:00."
)
TIMEZONE_USAGE: Final = N_(
    "Usage: /timezone <IANA name>, for example /timezone Europe/Rome or /timezone UTC."
)
QUIET_USAGE: Final = N_(
    "Usage: /quiet off or /quiet HH:MM-HH:MM [silent|hold] — for example "
    "/quiet 23:00-07:00 hold. Silent posts arrive without a notification; held posts "
    "arrive when the quiet hours end."
)
FILTER_USAGE: Final = N_(
    '/filter +word -word "a phrase" adds keywords (an article needs one + word and no - '
    "word), /filter clear removes them, /filter lang it,en or /filter lang all chooses the "
    "languages of the articles. At most {max} terms of at most {length} characters."
)
STYLE_USAGE: Final = N_("Usage: /style full, /style compact or /style headlines.")


class SettingError(ValueError):
    """A value that cannot be set; ``usage`` is the msgid to answer with."""

    def __init__(self, usage: str, detail: str = "") -> None:
        super().__init__(detail or usage)
        self.usage = usage


@dataclass(frozen=True, slots=True)
class Context:
    """What a change is checked against: the subscription, the time, the default zone."""

    subscription: Subscription
    now: datetime
    default_timezone: str


def _zone_name(ctx: Context) -> str:
    return ctx.subscription.timezone or ctx.default_timezone


def digest_values(text: str, ctx: Context) -> dict[str, Any]:
    """``off`` | ``daily HH:MM`` | ``weekly <day> HH:MM``."""
    if text.strip().lower() in ("off", "instant"):
        return {"mode": "instant", "next_digest_at": None}
    try:
        schedule = parse_digest(text)
        due = next_digest(schedule, timezone(_zone_name(ctx)), ctx.now)
    except ScheduleError as e:
        raise SettingError(DIGEST_USAGE, str(e)) from None
    values: dict[str, Any] = {"mode": "digest", "digest": schedule.text, "next_digest_at": due}
    if ctx.subscription.mode != "digest":  # the first digest starts from now
        values["last_digest_at"] = ctx.now
    return values


def timezone_values(text: str, ctx: Context) -> dict[str, Any]:
    """An IANA name; the next digest moves to the new zone's local time."""
    name = text.strip()
    try:
        zone = timezone(name)
    except ScheduleError as e:
        raise SettingError(TIMEZONE_USAGE, str(e)) from None
    values: dict[str, Any] = {"timezone": name}
    sub = ctx.subscription
    if sub.mode == "digest" and sub.digest:
        values["next_digest_at"] = next_digest(parse_digest(sub.digest), zone, ctx.now)
    return values


def quiet_values(text: str, ctx: Context) -> dict[str, Any]:
    """``off`` | ``HH:MM-HH:MM [silent|hold]``."""
    parts = text.split()
    if len(parts) == 1 and parts[0].lower() == "off":
        return {"quiet": None}
    if not 1 <= len(parts) <= 2:
        raise SettingError(QUIET_USAGE)
    action = parts[1].lower() if len(parts) == 2 else "silent"
    if action not in ("silent", "hold"):
        raise SettingError(QUIET_USAGE)
    try:
        quiet = parse_quiet(parts[0])
    except ScheduleError as e:
        raise SettingError(QUIET_USAGE, str(e)) from None
    return {"quiet": quiet.text, "quiet_action": action}


def filter_values(text: str, ctx: Context) -> dict[str, Any]:
    """``clear`` | ``lang it,en`` | ``lang all`` | terms to add."""
    words = text.split()
    if words == ["clear"]:
        return {"terms": ()}
    if words and words[0].lower() == "lang":
        if len(words) != 2:
            raise SettingError(FILTER_USAGE)
        if words[1].lower() == "all":
            return {"languages": ()}
        codes = [c.strip().lower() for c in words[1].split(",") if c.strip()]
        if not codes or any(len(c) != 2 or not c.isalpha() for c in codes):
            raise SettingError(FILTER_USAGE, "want two-letter language codes")
        return {"languages": tuple(dict.fromkeys(codes))}
    if not words:
        raise SettingError(FILTER_USAGE)
    try:
        return {"terms": tuple(parse_terms(text, ctx.subscription.terms))}
    except FilterError as e:
        raise SettingError(FILTER_USAGE, str(e)) from None


def style_values(text: str, ctx: Context) -> dict[str, Any]:
    style = text.strip().lower()
    if style not in STYLES:
        raise SettingError(STYLE_USAGE)
    return {"style": style}


def language_values(text: str, ctx: Context) -> dict[str, Any]:
    if text not in CATALOG_LANGUAGES:
        raise SettingError(N_("Unknown choice."))
    return {"language": text}


CHANGES: Final = {
    "digest": digest_values,
    "timezone": timezone_values,
    "quiet": quiet_values,
    "filter": filter_values,
    "style": style_values,
    "language": language_values,
}


def usage_text(error: SettingError, language: str) -> str:
    """The refusal: the reason when there is one, and the usage with an example."""
    usage = render_text(language, error.usage, max=MAX_TERMS, length=MAX_TERM_LENGTH)
    detail = str(error)
    if detail and detail != error.usage:
        return f"{escape(detail)}\n{usage}"
    return usage


def render_settings(sub: Subscription, language: str, default_timezone: str) -> str:
    """The settings in force, one per line."""
    _ = translator(language)
    if sub.mode == "digest" and sub.digest:
        delivery = render_text(language, N_("digest, {schedule}"), schedule=sub.digest)
    else:
        delivery = escape(_("instant"))
    if sub.quiet is None:
        quiet = escape(_("off"))
    elif sub.quiet_action == "hold":
        quiet = render_text(language, N_("{hours}, held until they end"), hours=sub.quiet)
    else:
        quiet = render_text(language, N_("{hours}, sent silently"), hours=sub.quiet)
    title = N_("Settings of this topic:") if sub.thread_id else N_("Settings of this chat:")
    lines = [
        f"<b>{escape(_(title))}</b>",
        render_text(
            language,
            N_("Language: {value}"),
            value=language_name(sub.language or language, language),
        ),
        render_text(language, N_("Delivery: {value}"), value="") + delivery,
        render_text(language, N_("Timezone: {value}"), value=sub.timezone or default_timezone),
        render_text(language, N_("Quiet hours: {value}"), value="") + quiet,
        render_text(language, N_("Keywords: {value}"), value=" ".join(sub.terms) or _("none")),
        render_text(
            language,
            N_("Languages of articles: {value}"),
            value=", ".join(sub.languages) or _("all"),
        ),
        render_text(language, N_("Post style: {value}"), value=_(_STYLE_NAMES[sub.style])),
    ]
    return "\n".join(lines)


_STYLE_NAMES: Final = {
    "full": N_("full"),
    "compact": N_("compact"),
    "headlines": N_("headlines"),
}
