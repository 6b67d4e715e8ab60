"""The health report: every segment's status and findings, window against baseline.

:func:`health_report` is the entry point the API, the CLI, the dashboard and the
alert rules call. It reads per-segment rollups for the window and the baseline
(two grouped queries) and hands them to :func:`evaluate_health`, which is pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection

from analytics.aggregates import Aggregates
from analytics.attribution import Contribution
from analytics.config import AnalyticsSettings
from analytics.durations import from_unix, to_unix
from analytics.findings import Finding, SegmentHealth, judge
from analytics.metrics import AllowedTiers, grouping, segment_by
from analytics.rollups import read_aggregates, read_segments, read_watermark
from tierwatch.settings import PrivacySettings

__all__ = [
    "Contribution",
    "Finding",
    "HealthReport",
    "Periods",
    "SegmentHealth",
    "evaluate_health",
    "health_report",
    "report_periods",
]


@dataclass(frozen=True)
class Periods:
    """The window judged and the baseline it is compared with, as half-open UTC ranges."""

    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime


@dataclass(frozen=True)
class HealthReport:
    """Statuses and findings of every segment of one report.

    ``tests`` is how many tests the false-discovery control covered together.
    """

    segments: list[SegmentHealth]
    window_start: datetime
    window_end: datetime
    baseline_start: datetime
    baseline_end: datetime
    by: tuple[str, ...]
    fleet: str | None
    tests: int
    fdr: float

    def status_counts(self) -> dict[str, int]:
        """How many segments have each status."""
        counts = dict.fromkeys(("ok", "warn", "degraded", "insufficient_data"), 0)
        for segment in self.segments:
            counts[segment.status] += 1
        return counts


def report_periods(end: datetime, window: timedelta, baseline: timedelta) -> Periods:
    """The window ``[end - window, end)`` and the baseline right before it.

    ``end`` is cut to the whole minute, so that the minute still filling up is
    never judged against complete ones.
    """
    end_s = to_unix(end) // 60 * 60
    window_s = int(window.total_seconds())
    baseline_s = int(baseline.total_seconds())
    if window_s < 60 or baseline_s < 60:
        raise ValueError("window and baseline must be at least one minute")
    start = end_s - window_s
    return Periods(
        window_start=from_unix(start),
        window_end=from_unix(end_s),
        baseline_start=from_unix(start - baseline_s),
        baseline_end=from_unix(start),
    )


def health_report(
    conn: Connection,
    *,
    end: datetime,
    window: timedelta,
    baseline: timedelta,
    by: Sequence[str],
    fleet: str | None,
    settings: AnalyticsSettings,
    privacy: PrivacySettings | None = None,
) -> HealthReport:
    """Judge every segment of dimensions ``by``: the window ending at ``end`` against its baseline.

    ``fleet`` limits the report to one fleet (``None``: all). With ``privacy`` the
    privacy violations are recounted under the fleets' current policies; without
    it the counts recorded at ingest are used. Segments are those with attempts in
    the window.
    """
    periods = report_periods(end, window, baseline)
    segments = read_segments(conn, fleet=fleet)
    watermark = read_watermark(conn)
    window_aggs = read_aggregates(
        conn,
        start=to_unix(periods.window_start),
        end=to_unix(periods.window_end),
        fleet=fleet,
        watermark=watermark,
    )
    baseline_aggs = read_aggregates(
        conn,
        start=to_unix(periods.baseline_start),
        end=to_unix(periods.baseline_end),
        fleet=fleet,
        watermark=watermark,
    )
    return evaluate_health(
        segments,
        window_aggs,
        baseline_aggs,
        periods=periods,
        by=by,
        fleet=fleet,
        settings=settings,
        allowed_tiers=privacy.allowed_tiers if privacy is not None else None,
    )


def evaluate_health(
    segments: pd.DataFrame,
    window: Aggregates,
    baseline: Aggregates,
    *,
    periods: Periods,
    by: Sequence[str],
    fleet: str | None,
    settings: AnalyticsSettings,
    allowed_tiers: AllowedTiers | None = None,
) -> HealthReport:
    """The health report from per-segment-id aggregates of window and baseline (pure)."""
    groups = grouping(segments, by)
    window_seg = segment_by(window, segments, groups, allowed_tiers=allowed_tiers)
    baseline_seg = segment_by(baseline, segments, groups, allowed_tiers=allowed_tiers)
    verdicts = judge(
        window_seg,
        baseline_seg,
        settings=settings,
        fleet=fleet,
        groups=groups,
        segments=segments,
        window_by_segment=window,
        baseline_by_segment=baseline,
    )
    return HealthReport(
        segments=verdicts.segments,
        window_start=periods.window_start,
        window_end=periods.window_end,
        baseline_start=periods.baseline_start,
        baseline_end=periods.baseline_end,
        by=tuple(by),
        fleet=fleet,
        tests=verdicts.tests,
        fdr=settings.fdr,
    )
