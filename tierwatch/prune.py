"""One pruning pass: every table that grows, cut at its retention horizon.

Each component expires its own tables (``collector.retention``,
``analytics.retention``, ``analytics.alerting.pruning``); this module only runs
them in order with the horizons from their sections, for ``tierwatch db prune``
and the server's pruning loop. The loop runs on one replica at a time, the holder
of the ``pruner`` lease.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from analytics.alerting import lease
from analytics.alerting.config import AlertsSettings
from analytics.alerting.pruning import expire_alerts, expire_leases, expire_silences
from analytics.config import AnalyticsSettings
from analytics.request_compaction import expire_hourly_request_rollups
from analytics.retention import (
    expire_advice_rollups,
    expire_hourly_rollups,
    expire_minute_rollups,
)
from collector.config import CollectorSettings
from collector.retention import (
    expire_attempts,
    expire_devices,
    expire_ingest_stats,
    expire_request_rollups,
    expire_requests,
)

#: The lease of the pruning loop.
PRUNER = "pruner"


@dataclass(frozen=True)
class Pruned:
    """What one pass removed from one table, and the horizon it applied (0: kept forever)."""

    table: str
    rows: int
    horizon_days: int

    def line(self) -> str:
        """One line for the terminal."""
        if self.horizon_days <= 0:
            return f"{self.table}: kept forever"
        plural = "" if self.rows == 1 else "s"
        return (
            f"{self.table}: removed {self.rows} row{plural} "
            f"older than {self.horizon_days} day{'' if self.horizon_days == 1 else 's'}"
        )


def prune(
    engine: Engine,
    *,
    now_ms: int,
    collector: CollectorSettings,
    analytics: AnalyticsSettings,
    alerts: AlertsSettings,
) -> list[Pruned]:
    """Delete everything past its horizon at ``now_ms`` (Unix milliseconds); one entry per table."""
    now = now_ms // 1000
    minute_days = analytics.minute_rollup_retention_days
    hourly_days = analytics.hourly_rollup_retention_days
    request_days = request_rollup_days(collector, analytics)
    out = [
        Pruned(
            "attempts",
            expire_attempts(
                engine, now_ns=now_ms * 1_000_000, retention_days=collector.retention_days
            ),
            collector.retention_days,
        ),
        Pruned(
            "requests",
            expire_requests(
                engine, now_ns=now_ms * 1_000_000, retention_days=collector.retention_days
            ),
            collector.retention_days,
        ),
        Pruned(
            "request_rollups",
            expire_request_rollups(engine, now=now, days=request_days),
            request_days,
        ),
        Pruned(
            "hourly_request_rollups",
            expire_hourly_request_rollups(engine, now=now, days=request_days),
            request_days,
        ),
        Pruned(
            "rollups",
            expire_minute_rollups(
                engine,
                now=now,
                days=minute_days,
                hourly_days=hourly_days,
                recheck_hours=analytics.compaction_recheck_hours,
            ),
            minute_days or hourly_days,
        ),
        Pruned(
            "hourly_rollups",
            expire_hourly_rollups(engine, now=now, days=hourly_days),
            hourly_days,
        ),
        Pruned(
            "advice_rollups",
            expire_advice_rollups(engine, now=now, days=hourly_days),
            hourly_days,
        ),
        Pruned(
            "ingest_stats",
            expire_ingest_stats(engine, now=now, days=collector.ingest_stats_retention_days),
            collector.ingest_stats_retention_days,
        ),
        Pruned(
            "devices",
            expire_devices(engine, now=now, days=collector.device_retention_days),
            collector.device_retention_days,
        ),
    ]
    ended = expire_alerts(engine, now_ms=now_ms, days=alerts.resolved_retention_days)
    out += [
        Pruned("alerts", ended.alerts, alerts.resolved_retention_days),
        Pruned("alert_events", ended.alert_events, alerts.resolved_retention_days),
        Pruned("deliveries", ended.deliveries, alerts.resolved_retention_days),
        Pruned(
            "silences",
            expire_silences(engine, now_ms=now_ms, days=alerts.silence_retention_days),
            alerts.silence_retention_days,
        ),
        Pruned(
            "leases",
            expire_leases(engine, now_ms=now_ms, days=alerts.lease_retention_days),
            alerts.lease_retention_days,
        ),
    ]
    return out


def request_rollup_days(collector: CollectorSettings, analytics: AnalyticsSettings) -> int:
    """How long request rollups are kept, in days (0: forever).

    They are minute rows that nothing compacts, kept as long as minute rollups are
    (reports read both over the same periods), but never less long than the
    requests themselves: while a request is kept, a late attempt may still move its
    contribution, so its minute must still be there.
    """
    minute_days = analytics.minute_rollup_retention_days or analytics.hourly_rollup_retention_days
    if minute_days <= 0 or collector.retention_days <= 0:
        return 0
    return max(minute_days, collector.retention_days)


def prune_if_holder(
    engine: Engine,
    *,
    holder: str,
    now_ms: int,
    ttl_ms: int,
    collector: CollectorSettings,
    analytics: AnalyticsSettings,
    alerts: AlertsSettings,
) -> list[Pruned] | None:
    """One pass if this server takes or holds the ``pruner`` lease, else ``None``."""
    if not lease.acquire(engine, name=PRUNER, holder=holder, now=now_ms, ttl_ms=ttl_ms):
        return None
    return prune(engine, now_ms=now_ms, collector=collector, analytics=analytics, alerts=alerts)
