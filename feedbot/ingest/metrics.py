"""The daemon's metrics of its scans, and the log line each scan writes."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from feedbot.ingest.scan import ScanReport

__all__ = ["ScanMetrics"]

log = logging.getLogger("feedbot.daemon")


class ScanMetrics:
    """Articles, bad files, scans by result, scan durations and changes, in ``/metrics``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.articles = Gauge("feedbot_articles", "Articles in the feed.", registry=registry)
        self.bad = Gauge("feedbot_bad_files", "Article files that do not parse.", registry=registry)
        self.scans = Counter(
            "feedbot_scans", "Scans of the index by result.", ["result"], registry=registry
        )
        self.duration = Histogram(
            "feedbot_scan_duration_seconds",
            "Wall time of one scan.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.changes = Counter(
            "feedbot_article_changes",
            "Articles new, changed or removed.",
            ["kind"],
            registry=registry,
        )

    def record(self, report: ScanReport, reason: str) -> None:
        """Count one finished scan and log it (INFO when something changed)."""
        self.scans.labels("ok").inc()
        self.duration.observe(report.seconds)
        self.articles.set(report.articles)
        self.bad.set(len(report.bad))
        for kind in ("new", "changed", "removed"):
            self.changes.labels(kind).inc(len(getattr(report, kind)))
        level = logging.INFO if report.changes else logging.DEBUG
        log.log(
            level,
            "scan (%s): %d new, %d changed, %d removed, %d unchanged, %d bad, %d unsettled "
            "in %.3fs; %d articles",
            reason,
            len(report.new),
            len(report.changed),
            len(report.removed),
            report.unchanged,
            len(report.bad),
            report.unsettled,
            report.seconds,
            report.articles,
        )
