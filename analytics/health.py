"""The health report: every segment's status and findings, the window against its best baseline.

:func:`health_report` is the entry point the API, the CLI, the dashboard and the
alert rules call. It plans the periods (see :mod:`analytics.baselines`), reads
per-segment rollups for each, hands them to :func:`evaluate_health`, which is
pure, and dates each finding's onset from the segment's series.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Connection

from analytics import aggregates, onset
from analytics.aggregates import Aggregates
from analytics.attribution import Contribution
from analytics.baselines import Baseline, Period, Plan, plan_report
from analytics.config import AnalyticsSettings
from analytics.durations import from_unix, parse_duration, to_unix
from analytics.estimates import TESTED, estimate
from analytics.findings import Finding, SegmentHealth
from analytics.judge import Observed, judge
from analytics.metrics import AllowedTiers
from analytics.requests import request_report
from analytics.rollups import read_aggregates, read_buckets, read_segments, read_watermark
from analytics.summary import folded_warnings, read_folded
from analytics.units import (
    Units,
    count_segments,
    plan_units,
    read_unit_aggregates,
    read_unit_periods,
)
from analytics.vocabulary import metric as vocabulary_metric
from analytics.wording import silence_text
from collector.cardinality import OVERFLOW
from collector.config import PrivacySettings

__all__ = [
    "Contribution",
    "Finding",
    "HealthReport",
    "Plan",
    "SegmentHealth",
    "evaluate_health",
    "health_report",
    "plan_for",
]
#: Buckets an onset is looked for in: the window and as long again before it.
_ONSET_BUCKETS = 60


@dataclass(frozen=True)
class HealthReport:
    """Statuses and findings of every segment of one report.

    ``baseline`` is what the report compared its window with (``seasonal``: the
    same hours of earlier days; ``preceding``: the period before the window);
    ``tests`` is how many tests the false-discovery control covered: the segments'
    own and those of the parts inside them, each family adjusted on its own.
    """

    segments: list[SegmentHealth]
    window_start: datetime
    window_end: datetime
    baseline: Baseline
    by: tuple[str, ...]
    fleet: str | None
    tests: int
    fdr: float
    #: How long the compared periods last together (seven days' hours: seven hours).
    baseline_seconds: int = 0
    #: What the reader should know about how the report was made: groups folded into
    #: ``__other__``, dimensions whose values went over the collector's limits.
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def baseline_start(self) -> datetime:
        """Where the baseline begins."""
        return self.baseline.start

    @property
    def baseline_end(self) -> datetime:
        """Where the baseline ends."""
        return self.baseline.end

    def status_counts(self) -> dict[str, int]:
        """How many segments have each status."""
        counts = dict.fromkeys(("ok", "warn", "degraded", "insufficient_data"), 0)
        for segment in self.segments:
            counts[segment.status] += 1
        return counts


def plan_for(
    end: datetime, *, window: timedelta, baseline: timedelta | None, settings: AnalyticsSettings
) -> Plan:
    """The periods a report reads, from the analytics settings."""
    return plan_report(
        end,
        window=window,
        baseline=baseline,
        default_baseline=parse_duration(settings.default_baseline),
        seasonal_days=settings.seasonal_days,
        seasonal_weeks=settings.seasonal_weeks,
        drift_after=parse_duration(settings.drift_after) if settings.drift_after else None,
        pinned=settings.pinned_references(),
    )


def health_report(
    conn: Connection,
    *,
    end: datetime,
    window: timedelta,
    baseline: timedelta | None,
    by: Sequence[str],
    fleet: str | None,
    settings: AnalyticsSettings,
    privacy: PrivacySettings | None = None,
) -> HealthReport:
    """Judge every segment of dimensions ``by``: the window ending at ``end`` against its baseline.

    ``baseline`` given compares every segment with that period before the
    window; ``None`` uses the best baseline the history allows. ``fleet``
    limits the report to one fleet (``None``: all). With ``privacy`` the privacy
    violations are recounted under the fleets' current policies.
    """
    plan = plan_for(end, window=window, baseline=baseline, settings=settings)
    watermark = read_watermark(conn)
    warnings = folded_warnings(read_folded(conn, fleet=fleet))
    units: Units | None = None
    if count_segments(conn, fleet=fleet) > settings.report_max_segments:
        # Many segments: read per group of the report's dimensions, added up in SQL,
        # the groups ranked by their attempts in the window and the period before it.
        units = plan_units(
            conn,
            by=by,
            fleet=fleet,
            start=to_unix(plan.preceding.start),
            end=to_unix(plan.window.end),
            max_groups=settings.report_max_groups,
            watermark=watermark,
        )
        segments = units.frame
        warnings += units_warnings(units, by)
    else:
        segments = read_segments(conn, fleet=fleet)

    read = _PeriodReader(conn, units, fleet=fleet, watermark=watermark)
    read_days = not plan.explicit or bool(plan.reference)
    # Every period the report certainly needs, read together (in parallel for units).
    read.prefetch(
        [plan.window, plan.preceding, *(plan.days if read_days else ())]
        + [p for periods in (plan.reference or {}).values() for p in periods]
    )
    days = tuple(read(p) for p in plan.days) if read_days else ()

    def pooled(periods: Sequence[Period]) -> Aggregates:
        return aggregates.combine([read(p) for p in periods])

    reference = None
    if plan.reference:
        default = pooled(plan.reference[None]) if None in plan.reference else aggregates.empty()
        reference = default
        for pinned_fleet, periods in plan.reference.items():
            if pinned_fleet is None:
                continue
            ids = segments.index[segments["fleet"] == pinned_fleet].to_numpy()
            mine = aggregates.reindex(pooled(periods), ids)
            others = np.setdiff1d(reference.labels, ids)
            reference = aggregates.combine([aggregates.reindex(reference, others), mine])
    window_aggs = read(plan.window)
    # The slices of the period before the window serve segments whose calendar is short.
    slices: tuple[Aggregates, ...] = ()
    if plan.slices and short_history(window_aggs, days, settings.seasonal_min_days):
        read.prefetch(plan.slices)
        slices = tuple(read(p) for p in plan.slices)
    observed = Observed(
        segments=segments,
        window=window_aggs,
        preceding=read(plan.preceding),
        days=days,
        reference=reference,
        slices=slices,
    )
    allowed = privacy.allowed_tiers if privacy is not None else None
    report = evaluate_health(
        observed, plan, by=by, fleet=fleet, settings=settings, allowed_tiers=allowed
    )
    report = dataclasses.replace(report, warnings=warnings)
    report = _with_requests(conn, report, plan=plan, by=by, fleet=fleet)
    return _with_onsets(conn, report, segments, plan=plan, fleet=fleet, by_key=units is not None)


def _with_requests(
    conn: Connection, report: HealthReport, *, plan: Plan, by: Sequence[str], fleet: str | None
) -> HealthReport:
    """Each segment with the requests that started in its window, first attempt in it."""
    started = request_report(
        conn,
        start=plan.window.start,
        end=plan.window.end,
        by=by,
        key={"fleet": fleet} if fleet is not None else None,
    )
    if not started.groups:
        return report
    groups = {tuple(g.key[d] for d in by): g for g in started.groups}
    segments = [
        dataclasses.replace(s, requests=groups.get(tuple(s.key.get(d, "") for d in by)))
        for s in report.segments
    ]
    return dataclasses.replace(report, segments=segments)


class _PeriodReader:
    """A report's reads of periods: each period once, the units' several at a time."""

    def __init__(
        self, conn: Connection, units: Units | None, *, fleet: str | None, watermark: int | None
    ) -> None:
        self._conn = conn
        self._units = units
        self._fleet = fleet
        self._watermark = watermark
        self._read: dict[Period, Aggregates] = {}

    def prefetch(self, periods: Sequence[Period]) -> None:
        """Read the periods not read yet; with units, on several connections at once."""
        todo = list(dict.fromkeys(p for p in periods if p not in self._read))
        if self._units is None or len(todo) <= 1:
            return
        spans = [(to_unix(p.start), to_unix(p.end)) for p in todo]
        read = read_unit_periods(
            self._conn, self._units, spans, fleet=self._fleet, watermark=self._watermark
        )
        self._read.update(zip(todo, read, strict=True))

    def __call__(self, period: Period) -> Aggregates:
        if period not in self._read:
            start, end = to_unix(period.start), to_unix(period.end)
            if self._units is not None:
                got = read_unit_aggregates(
                    self._conn,
                    self._units,
                    start=start,
                    end=end,
                    fleet=self._fleet,
                    watermark=self._watermark,
                )
            else:
                got = read_aggregates(
                    self._conn, start=start, end=end, fleet=self._fleet, watermark=self._watermark
                )
            self._read[period] = got
        return self._read[period]


def units_warnings(units: Units, by: Sequence[str]) -> list[str]:
    """What a report read per group says about itself."""
    out = [
        "the store holds many segments: this report added them up per group of "
        f"{', '.join(by) or 'the fleet'} in the database, so findings name no sub-segments"
    ]
    if units.folded:
        out.append(
            f"{units.folded:,} of {units.groups:,} groups with the fewest attempts were added "
            f"into {OVERFLOW}; the {len(units.kept or ()):,} with the most are shown"
        )
    return out


def short_history(window: Aggregates, days: Sequence[Aggregates], min_days: int) -> bool:
    """Whether a segment with attempts in the window has fewer than ``min_days`` earlier days."""
    active = window.labels[window.column("attempts") > 0]
    if not len(active):
        return False
    covered = np.zeros(len(active), dtype=int)
    for day in days:
        held = day.labels[day.column("attempts") > 0]
        covered += np.isin(active, held)
    return bool((covered < min_days).any())


def evaluate_health(
    observed: Observed,
    plan: Plan,
    *,
    by: Sequence[str],
    fleet: str | None,
    settings: AnalyticsSettings,
    allowed_tiers: AllowedTiers | None = None,
) -> HealthReport:
    """The health report from the per-segment-id aggregates of every period it reads (pure)."""
    verdicts = judge(
        observed, plan, by=by, fleet=fleet, settings=settings, allowed_tiers=allowed_tiers
    )
    return HealthReport(
        segments=verdicts.segments,
        window_start=plan.window.start,
        window_end=plan.window.end,
        baseline=verdicts.baseline,
        by=tuple(by),
        fleet=fleet,
        tests=verdicts.tests,
        fdr=settings.fdr,
        baseline_seconds=_covered(verdicts.baseline, plan),
    )


def _covered(baseline: Baseline, plan: Plan) -> int:
    """How many seconds of data a report's baseline compares with."""
    if baseline.kind == "seasonal":
        inside = [p for p in plan.days if p.start >= baseline.start and p.end <= baseline.end]
        return sum(p.seconds for p in inside)
    return plan.preceding.seconds


def _with_onsets(
    conn: Connection,
    report: HealthReport,
    segments: pd.DataFrame,
    *,
    plan: Plan,
    fleet: str | None,
    by_key: bool = False,
) -> HealthReport:
    """The report with each change and silence dated from its segment's series.

    ``by_key`` finds a segment's rollups by its dimension values in SQL (``segments``
    are then units, see :mod:`analytics.units`); a folded group is not dated.
    """
    window_s = plan.window.seconds
    step = max(60, (2 * window_s // _ONSET_BUCKETS) // 60 * 60)
    start = to_unix(plan.window.end) - 2 * window_s
    start -= start % step
    stop = to_unix(plan.window.end)
    labels = np.arange(start, stop, step)
    # A segment's findings mostly share its series: read each once.
    series_of: dict[tuple[tuple[str, str], ...], Aggregates] = {}
    out = []
    for segment in report.segments:
        dated = []
        for finding in segment.findings:
            if finding.kind not in ("change", "silence") or finding.test == "policy":
                dated.append(finding)
                continue
            key = {**segment.key, **finding.subject}
            if by_key:
                if OVERFLOW in key.values():
                    dated.append(finding)
                    continue
                ident = tuple(key.items())
                if ident not in series_of:
                    read = read_buckets(conn, start=start, end=stop, step=step, key=key)
                    series_of[ident] = aggregates.reindex(read, labels)
                dated.append(_dated(finding, series_of[ident], labels, step))
                continue
            mask = np.ones(len(segments), dtype=bool)
            for dim, value in key.items():
                mask &= (segments[dim].astype(str) == value).to_numpy()
            ids = segments.index[mask].to_list()
            if not ids:
                dated.append(finding)
                continue
            ident = tuple(key.items())
            if ident not in series_of:
                read = read_buckets(
                    conn, start=start, end=stop, step=step, segment_ids=ids, fleet=fleet
                )
                series_of[ident] = aggregates.reindex(read, labels)
            dated.append(_dated(finding, series_of[ident], labels, step))
        out.append(dataclasses.replace(segment, findings=dated))
    return dataclasses.replace(report, segments=out)


def _dated(finding: Finding, series: Aggregates, labels: np.ndarray, step: int) -> Finding:
    """``finding`` with its onset from ``series`` (bucketed aggregates starting at ``labels``)."""
    if finding.kind == "silence":
        at = onset.silent_since(series.column("attempts"))
        if at is None:
            at = onset.step_onset(series.column("attempts").astype(float),
                                  np.ones(len(labels)), worse=-1)  # fmt: skip
        if at is None:
            return finding
        since = from_unix(int(labels[at]))
        return dataclasses.replace(
            finding,
            onset=since,
            explanation=silence_text(
                finding.window_value or 0.0,
                finding.baseline_value or 0.0,
                since=since,
                subject=finding.subject,
            ),
        )
    if finding.metric not in TESTED or finding.reference != "baseline":
        return finding
    est = estimate(finding.metric, series, local_requests=None)
    worse = vocabulary_metric(finding.metric).worse
    at = onset.step_onset(
        est.value, est.count, worse=worse if finding.direction == "worse" else -worse
    )
    if at is None:
        return finding
    return dataclasses.replace(finding, onset=from_unix(int(labels[at])))
