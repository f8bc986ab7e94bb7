"""The composition root of `feedbot run`: every long-lived object, built from `Settings`.

`build_daemon` is the one place that reads the whole settings model to make the
daemon's parts — the indexer, the site, the leadership, the catch-up, the metrics,
the SIGHUP reloader and the optional components — and hands each its own section.
The `Daemon` only drives what it is given; nothing is set on it after it is built.
`run` is `feedbot run`: `feedbot.runtime.startup.run` opens the store and calls back
here to build the daemon and bind its web app.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from feedbot.cluster.catchup import CatchUp
from feedbot.cluster.leader import Leadership
from feedbot.config import FeedSettings, HttpSettings, Settings
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
from feedbot.runtime import startup
from feedbot.runtime.components import ComponentFactory, ReadsIndex
from feedbot.runtime.daemon import Daemon, DaemonParts
from feedbot.runtime.looplag import LoopLag
from feedbot.runtime.publishing import publishing_from
from feedbot.runtime.reload import Reloader
from feedbot.search.query import Query
from feedbot.search.reach import Found
from feedbot.store import Store, StoreSource
from feedbot.store.dbfile import FileIdentity

__all__ = ["bind", "build_daemon", "run"]


def run(
    settings: Settings,
    *,
    components: Sequence[ComponentFactory] = (),
    baseline: bool = False,
    reload: Callable[[], Settings] | None = None,
) -> None:
    """`feedbot run`: open everything, serve until SIGTERM/SIGINT, close; raises
    FeedbotError on bad setup (`feedbot.runtime.startup.run`).

    ``baseline`` accepts a new database over a non-empty index where one existed
    before (see `feedbot.store.dbfile`); ``reload`` re-reads the settings on SIGHUP."""

    def assemble(
        store: Store, identity: FileIdentity | None
    ) -> tuple[Daemon, Callable[[], HttpServer]]:
        daemon = build_daemon(
            settings, store, components=components, identity=identity, reload=reload
        )
        return daemon, lambda: bind(daemon, settings.http)

    startup.run(settings.storage, settings.index.path, assemble, baseline=baseline)


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
    # The deliveries of a new article are queued in the transaction that stores it.
    store.articles.publish_with(publishing_from(settings.telegram))
    indexer = Indexer(
        index.path,
        store.articles,
        max_bytes=index.max_file_bytes,
        settle_ms=index.settle_ms,
        follow_symlinks=index.follow_symlinks,
    )
    leadership = Leadership(store, settings.cluster, registry, solo=store.dialect != "postgresql")
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
        store,
        DaemonParts(
            index=index,
            registry=registry,
            metrics=ScanMetrics(registry),
            lag=LoopLag(registry),
            indexer=indexer,
            # What changed while no daemon ran is unknown: no Last-Modified before this start.
            site=Site(StoreSource(store.articles), settings.feed, changed_since=datetime.now(UTC)),
            leadership=leadership,
            catchup=catchup,
            writes=writes,
            components=parts,
            identity=identity,
            reload=None if reload is None else Reloader(settings, reload, store.articles, parts),
            publisher=publisher,
        ),
    )


def bind(daemon: Daemon, http: HttpSettings) -> HttpServer:
    """The daemon's web app on its bound socket (`FeedbotError` when the port is taken):
    the site, ``/healthz``, ``/metrics`` and the components' routes."""
    app = create_app(
        daemon.site,
        http,
        registry=daemon.registry,
        health=daemon.health,
        routes=[r for c in daemon.components for r in c.routes],
        offload=daemon.store.call,
        searches=searches(daemon.store, daemon.site.feed),
    )
    limits = http_limits(http.header_timeout, http.max_connections)
    return bind_server(app, http.host, http.port, limits=limits)


def searches(store: Store, feed: FeedSettings) -> Searches:
    """The site's search answers, over the store's full-text index."""

    def find(query: Query, offset: int, limit: int, newest: bool) -> Found:
        now = datetime.now(UTC)
        return store.search.find(query, now, offset=offset, limit=limit, newest=newest)

    return Searches(find, lambda: store.articles.version, feed)
