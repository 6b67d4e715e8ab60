"""The server's own metrics beyond the collector's: alerting, database, processes.

Counted as they happen (alert evaluation passes, database errors, connections
checked out of the pool) in the collector's registry, so several server
processes sum like the collector's counters; read at scrape time (alerts,
deliveries and the outbox from the database, memory and CPU from ``/proc``).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event

from analytics.alerting.gauges import read_gauges
from collector.assemble import queued_attempts
from collector.telemetry import CollectorMetrics

log = logging.getLogger(__name__)

_EVALUATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class ServerMetrics:
    """Instruments for alert evaluation and the database, next to the collector's."""

    def __init__(self, metrics: CollectorMetrics) -> None:
        r = metrics.registry
        self.evaluations = Counter(
            "tierwatch_alert_evaluations",
            "Alert evaluation passes by outcome (written, skipped: not the lease holder, "
            "lease_lost, failed).",
            ["outcome"],
            registry=r,
        )
        self.evaluation_duration = Histogram(
            "tierwatch_alert_evaluation_duration_seconds",
            "Time of one alert evaluation pass.",
            buckets=_EVALUATION_BUCKETS,
            registry=r,
        )
        self.db_errors = Counter(
            "tierwatch_db_errors",
            "Errors the database driver raised in server processes.",
            registry=r,
        )
        self.pool_checked_out = Gauge(
            "tierwatch_db_pool_checked_out",
            "Database connections in use by server processes.",
            registry=r,
            multiprocess_mode="livesum",
        )

    def evaluation(self, outcome: str, seconds: float) -> None:
        """Count one alert evaluation pass (``AlertService.on_evaluation``)."""
        self.evaluations.labels(outcome).inc()
        self.evaluation_duration.observe(seconds)

    def watch(self, engine: Engine) -> None:
        """Count ``engine``'s errors and the connections checked out of its pool."""
        event.listen(engine, "handle_error", lambda _context: self.db_errors.inc())
        event.listen(engine, "checkout", lambda *_: self.pool_checked_out.inc())
        event.listen(engine, "checkin", lambda *_: self.pool_checked_out.dec())


class AlertingCollector(Collector):
    """Alerts by state, notifications by hook and status, and the outbox, from the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            gauges = read_gauges(self.engine, now_ms=time.time_ns() // 1_000_000)
        except Exception as exc:  # the database is down: the rest of /metrics still answers
            log.debug("alerting metrics unavailable: %s", exc)
            return
        alerts = GaugeMetricFamily("tierwatch_alerts", "Alerts by state.", labels=["state"])
        for state in ("pending", "firing", "resolved", "inactive"):
            alerts.add_metric([state], gauges.alerts_by_state.get(state, 0))
        yield alerts
        deliveries = GaugeMetricFamily(
            "tierwatch_alert_deliveries",
            "Notifications by hook and delivery status (pending, delivered, failed, dead).",
            labels=["hook", "status"],
        )
        for (hook, status), count in sorted(gauges.deliveries.items()):
            deliveries.add_metric([hook, status], count)
        yield deliveries
        yield GaugeMetricFamily(
            "tierwatch_alert_outbox_depth",
            "Notifications waiting to be delivered.",
            value=gauges.outbox_depth,
        )
        yield GaugeMetricFamily(
            "tierwatch_alert_outbox_oldest_age_seconds",
            "Age of the oldest notification waiting to be delivered (0 when none waits).",
            value=gauges.outbox_oldest_age_seconds,
        )


class RequestsCollector(Collector):
    """Attempts stored but not yet assembled into requests, from the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            queued = queued_attempts(self.engine)
        except Exception as exc:  # the database is down: the rest of /metrics still answers
            log.debug("request metrics unavailable: %s", exc)
            return
        yield GaugeMetricFamily(
            "tierwatch_requests_queued_attempts",
            "Attempts stored but not yet assembled into requests.",
            value=queued,
        )


class ProcessTreeCollector(Collector):
    """Memory and CPU of the server: ``root`` and every process below it (ingest workers...)."""

    def __init__(self, root: int) -> None:
        self.root = root

    def collect(self) -> Iterator[Metric]:
        pids = [self.root, *_descendants(self.root)]
        rss = cpu = 0.0
        counted = 0
        for pid in pids:
            usage = _usage(pid)
            if usage is not None:
                rss += usage[0]
                cpu += usage[1]
                counted += 1
        if not counted:
            return
        yield GaugeMetricFamily(
            "tierwatch_process_resident_memory_bytes",
            "Resident memory of the server's processes, summed.",
            value=rss,
        )
        yield CounterMetricFamily(
            "tierwatch_process_cpu_seconds",
            "User and system CPU time of the server's live processes, summed.",
            value=cpu,
        )
        yield GaugeMetricFamily(
            "tierwatch_processes", "Live processes of the server.", value=counted
        )


def _usage(pid: int) -> tuple[float, float] | None:
    """Resident bytes and CPU seconds of ``pid`` from ``/proc``, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return int(statm[1]) * os.sysconf("SC_PAGE_SIZE"), (int(stat[11]) + int(stat[12])) / ticks


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.append(int(child))
            found.extend(_descendants(int(child)))
    return found


def instrument(
    metrics: CollectorMetrics, engine: Engine, *, process_root: int | None = None
) -> ServerMetrics:
    """Add the server's metrics to ``metrics``: instruments, and what is read at scrape time."""
    server = ServerMetrics(metrics)
    server.watch(engine)
    metrics.scraped.register(AlertingCollector(engine))
    metrics.scraped.register(RequestsCollector(engine))
    metrics.scraped.register(ProcessTreeCollector(process_root or os.getpid()))
    return server


def forget_process(metrics: CollectorMetrics) -> None:
    """Drop this process's live gauges from the shared counts (a clean shutdown)."""
    if metrics.multiprocess_dir is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid(), metrics.multiprocess_dir)
