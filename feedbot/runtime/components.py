"""The seam between the daemon and its optional parts (the Telegram bot, the playground).

A `Component` is made by a `ComponentFactory` from the settings, the store and the
metrics registry, started on every replica, and told when this replica starts and
stops leading. One that reads the index folder itself (`ReadsIndex`) is also told
which files a writer still has open.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol, runtime_checkable

from prometheus_client import CollectorRegistry
from starlette.routing import BaseRoute

from feedbot.cluster.leader import Leadership
from feedbot.config import Settings
from feedbot.store import Store

__all__ = ["Component", "ComponentFactory", "ReadsIndex"]


class Component(Protocol):
    """An optional part of the daemon (the Telegram bot): started after the first scan."""

    @property
    def routes(self) -> list[BaseRoute]:
        """Extra HTTP routes (e.g. the webhook) mounted on the web app."""
        ...

    async def start(self) -> None:
        """Every replica: set up (the leader's part starts in `lead`)."""
        ...

    async def lead(self, leadership: Leadership) -> None:
        """This replica became the leader: start the leader's part (polling, sending)."""
        ...

    async def stop_leading(self) -> None:
        """This replica stopped leading: stop the leader's part."""
        ...

    async def stop(self) -> None: ...

    def wake(self, changed: Collection[str] = ()) -> None:
        """New deliveries or corrections were written; ``changed``: ids of articles that
        changed or went away (read them again)."""
        ...

    def reconfigure(self, settings: Settings) -> None:
        """SIGHUP: apply the live settings (the rate limits) to what is running."""
        ...

    def health(self) -> dict[str, Any]:
        """What `/healthz` says about this component."""
        ...

    def down(self) -> str | None:
        """What of this component should run and does not (a 503 in `/healthz`), or None."""
        ...


@runtime_checkable
class ReadsIndex(Protocol):
    """A component that scans the index folder itself (the playground, into its own
    database): it leaves alone the files the daemon's watcher sees open for writing."""

    def skip_open_writes(self, held: Callable[[], Collection[str]]) -> None:
        """``held()`` names the files to leave unread now (`feedbot.ingest.openwrites`)."""
        ...


ComponentFactory = Callable[[Settings, Store, CollectorRegistry], Component | None]
