"""The chat playground: try the bot in a browser page, with no Telegram account.

`playground_component` is the daemon's factory: it decides from the settings
whether the playground runs (`playground_enabled`) and builds the `Playground`
(`feedbot.playground.service`) only then, so a daemon without it never imports
python-telegram-bot for it.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry

from feedbot.config import Settings
from feedbot.store import Store

if TYPE_CHECKING:
    from feedbot.playground.service import Playground

__all__ = ["is_loopback", "playground_component", "playground_enabled"]

log = logging.getLogger("feedbot.playground")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only accepts connections from this machine."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def playground_enabled(settings: Settings) -> tuple[bool, str]:
    """Whether the playground runs, and why (or why not)."""
    enabled = settings.playground.enabled
    if enabled is False:
        return False, "playground.enabled is false"
    if settings.telegram.token is not None:
        return False, "a Telegram token is set"
    if enabled == "auto" and not is_loopback(settings.http.host):
        return False, f"http.host {settings.http.host} is not a loopback address"
    return True, "no Telegram token" if enabled == "auto" else "playground.enabled is true"


def playground_component(
    settings: Settings, store: Store, registry: CollectorRegistry
) -> Playground | None:
    """The playground component, or None when it is off (see `playground_enabled`)."""
    on, why = playground_enabled(settings)
    if not on:
        log.debug("playground off: %s", why)
        return None
    if not is_loopback(settings.http.host):
        log.warning(
            "playground.enabled is true on %s: anyone who reaches this server can chat with the "
            "bot in the playground",
            settings.http.host,
        )
    from feedbot.playground.service import Playground

    return Playground(settings, store)
