"""The composition root of `feedbot run`: every long-lived object, built from `Settings`.

`build_daemon` is the one place that reads the whole settings model to make the
daemon's parts — the indexer, the site, the leadership, the catch-up, the metrics
and the optional components — and hands each its own section. The `Daemon` only
drives what it is given; nothing is set on it after it is built.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from feedbot.articles.model import Entry
from feedbot.cluster.catchup import CatchUp
from feedbot.cluster.leader import Leadership
from feedbot.config import FeedSettings, Settings
from feedbot.http.app import create_app
from feedbot.http.guard import http_limits
from feedbot.http.server import HttpServer, bind_server
from feedbot.ingest.metrics import ScanMetrics
from feedbot.ingest.openwrites import OpenWrites
from feedbot.ingest.scan import Indexer
from feedbot.publish.feeds import feed_url
from feedbot.publish.results import Searches
from feedbot.publish.site import Site
from feedbot.publish.websub import Publisher
from feedbot.runtime.components import ComponentFactory, ReadsIndex
from feedbot.runtime.daemon import Daemon, DaemonParts
from feedbot.runtime.looplag import LoopLag
from feedbot.runtime.publishing import publishing_from
from feedbot.search.query import Query
from feedbot.store import Store, StoreSource
from feedbot.store.dbfile import FileIdentity

__all__ = ["bind", "build_daemon"]


def build_daemon(
    settings: Settings,
    store: Store,
    *,
    components: Sequence[ComponentFactory] = (),
    identity: FileIdentity | None = None,
    reload: Callable[[], Settings] | None = None,
) -> Daemon:
    """The daemon on ``store`` with every part it drives.

    ``identity`` is the SQLite file, to notice it vanish; ``reload`` re-reads the
    settings on SIGHUP (None: there is no file to re-read)."""
    registry = CollectorRegistry()
    index = settings.index
    indexer = Indexer(
        index.path,
        store.articles,
        max_bytes=index.max_file_bytes,
        settle_ms=index.settle_ms,
        channels=settings.telegram.channels,
        follow_symlinks=index.follow_symlinks,
        publishing=publishing_from(settings),
    )
    leadership = Leadership(
        store, settings.cluster, registry, solo=store.db.dialect != "postgresql"
    )
    catchup = None if leadership.solo else CatchUp(store, settings.cluster.version_check_interval)
    feed = settings.feed
    publisher = (
        None
        if feed.websub_hub is None
        else Publisher(feed.websub_hub, [feed_url(feed, fmt) for fmt in ("atom", "rss", "json")])
    )
    writes = OpenWrites(index.open_write_timeout)  # files the watcher sees open
    parts = [c for f in components if (c := f(settings, store, registry))]
    for part in parts:
        if isinstance(part, ReadsIndex):
            part.skip_open_writes(lambda: writes.held(time.monotonic()))
    return Daemon(
        settings,
        store,
        DaemonParts(
            registry=registry,
            metrics=ScanMetrics(registry),
            lag=LoopLag(registry),
            indexer=indexer,
            # What changed while no daemon ran is unknown: no Last-Modified before this start.
            site=Site(StoreSource(store.articles), settings, changed_since=datetime.now(UTC)),
            leadership=leadership,
            catchup=catchup,
            writes=writes,
            components=parts,
            identity=identity,
            reload=reload,
            publisher=publisher,
        ),
    )


def bind(daemon: Daemon) -> HttpServer:
    """The daemon's web app on its bound socket (`FeedbotError` when the port is taken):
    the site, ``/healthz``, ``/metrics`` and the components' routes."""
    settings = daemon.settings
    app = create_app(
        daemon.site,
        settings,
        registry=daemon.registry,
        health=daemon.health,
        routes=[r for c in daemon.components for r in c.routes],
        offload=daemon.store.db.call,
        searches=searches(daemon.store, settings.feed),
    )
    http = settings.http
    limits = http_limits(http.header_timeout, http.max_connections)
    return bind_server(app, http.host, http.port, limits=limits)


def searches(store: Store, feed: FeedSettings) -> Searches:
    """The site's search answers, over the store's full-text index."""

    def find(query: Query, offset: int, limit: int, newest: bool) -> list[Entry]:
        now = datetime.now(UTC)
        hits = store.search.find(query, now, offset=offset, limit=limit, newest=newest)
        return [hit.entry for hit in hits]

    return Searches(find, lambda: store.articles.version, feed)
