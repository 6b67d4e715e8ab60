"""Small hand-made analytics results and a fake source that serves them to the pages."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from analytics.advice import Advice, Goals
from analytics.attribution import Contribution
from analytics.baselines import Baseline
from analytics.config import AnalyticsSettings
from analytics.findings import Finding, SegmentHealth
from analytics.health import HealthReport
from analytics.objectives import ObjectiveStatus
from analytics.requests import RequestGroup, RequestReport
from analytics.tiers import Difference, TierComparison
from analytics.times import TimeRange as AnalyticsTimeRange
from analytics.versions import CanaryComparison, StuckDevice, VersionDrift, VersionShare
from collector.auth import Principal
from dashboard.context import Context
from dashboard.period import TimeRange

#: The fixed clock: a minute boundary, so the window ends exactly here.
NOW = datetime(2025, 1, 2, 12, 0, 30, tzinfo=UTC)
END = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
WINDOW_START = END - timedelta(hours=1)
BASELINE_START = WINDOW_START - timedelta(hours=24)

ERROR_FINDING = Finding(
    metric="error_rate",
    window_value=0.075,
    baseline_value=0.03,
    relative_change=1.5,
    p_value=1e-6,
    p_adjusted=1e-5,
    severity="degraded",
    explanation="error rate 7.5% vs 3.0% baseline (+150%), p<0.001",
    attribution=(
        Contribution(
            key={"model_version": "2.2.0"},
            window_value=0.225,
            baseline_value=None,
            share=0.95,
            window_attempts=120,
        ),
    ),
)
LATENCY_FINDING = Finding(
    metric="latency_p99_ms",
    window_value=200.0,
    baseline_value=80.0,
    relative_change=1.5,
    p_value=1e-4,
    p_adjusted=1e-3,
    severity="warn",
    explanation="p99 latency 200 ms vs 80 ms baseline (+150%), p=0.001",
)
BETTER_FINDING = Finding(
    metric="fallback_rate",
    window_value=0.02,
    baseline_value=0.05,
    relative_change=-0.6,
    p_value=1e-3,
    p_adjusted=1e-2,
    severity="ok",
    explanation="fallback rate 2.0% vs 5.0% baseline (-60%), p=0.010",
    direction="better",
)


def metrics(**values: float | int | None) -> dict[str, float | int | None]:
    """A metrics dict with the keys the dashboard reads, zero or missing unless given."""
    base: dict[str, float | int | None] = {
        "attempts": 0,
        "requests": 0,
        "cloud_escalations": 0,
        "privacy_violations": 0,
        "error_rate": None,
        "fallback_rate": None,
        "cloud_escalation_rate": None,
        "latency_p50_ms": None,
        "latency_p95_ms": None,
        "latency_p99_ms": None,
        "confidence_mean": None,
        "quality_mean": None,
    }
    return {**base, **values}


def device_segment(**key: str) -> SegmentHealth:
    """The degraded device tier: errors and latency up, fallbacks down."""
    return SegmentHealth(
        key={"tier": "device", **key},
        status="degraded",
        metrics=metrics(
            attempts=480,
            requests=480,
            error_rate=0.075,
            fallback_rate=0.02,
            latency_p95_ms=158.0,
            quality_mean=0.837,
        ),
        findings=[ERROR_FINDING, LATENCY_FINDING, BETTER_FINDING],
        baseline_metrics=metrics(
            attempts=1920,
            requests=1920,
            error_rate=0.03,
            fallback_rate=0.05,
            latency_p95_ms=65.0,
            quality_mean=0.879,
        ),
    )


def edge_segment() -> SegmentHealth:
    return SegmentHealth(
        key={"tier": "edge"},
        status="ok",
        metrics=metrics(attempts=240, requests=240, error_rate=0.033, latency_p95_ms=90.0),
        baseline_metrics=metrics(
            attempts=960, requests=960, error_rate=0.031, latency_p95_ms=102.0
        ),
    )


def cloud_segment() -> SegmentHealth:
    return SegmentHealth(
        key={"tier": "cloud"},
        status="ok",
        metrics=metrics(attempts=267, requests=240, cloud_escalations=27, privacy_violations=2),
        baseline_metrics=metrics(attempts=1056, requests=960, cloud_escalations=30),
    )


def report(segments: Sequence[SegmentHealth], *, by: Sequence[str] = ("tier",)) -> HealthReport:
    """A report over the fixed window and baseline."""
    return HealthReport(
        segments=list(segments),
        window_start=WINDOW_START,
        window_end=END,
        baseline=Baseline("preceding", BASELINE_START, WINDOW_START),
        by=tuple(by),
        fleet=None,
        tests=12,
        fdr=0.05,
    )


def series(values: Mapping[str, list[float]], *, step: int = 3600) -> pd.DataFrame:
    """A segment_series-like frame: one row per bucket from the baseline's start."""
    length = len(next(iter(values.values())))
    index = pd.DatetimeIndex(
        [BASELINE_START + timedelta(seconds=step * i) for i in range(length)], name="start"
    )
    frame = pd.DataFrame(dict(values), index=index)
    if "attempts" not in frame:
        frame["attempts"] = 100
    return frame


def comparison(task: str = "photo-tag", tier: str = "device") -> TierComparison:
    """A local tier against the cloud for one task."""
    return TierComparison(
        fleet="shop",
        task=task,
        tier=tier,
        local=metrics(
            attempts=480,
            latency_p50_ms=46.0,
            latency_p95_ms=158.0,
            latency_p99_ms=200.0,
            quality_mean=0.84,
            quality_ci_low=0.83,
            quality_ci_high=0.85,
        ),
        cloud=metrics(
            attempts=267,
            latency_p50_ms=146.0,
            latency_p95_ms=235.0,
            latency_p99_ms=280.0,
            quality_mean=0.93,
            quality_ci_low=0.92,
            quality_ci_high=0.94,
        ),
        differences=[
            Difference("latency_p95_ms", 158.0, 235.0, -77.0, -112.0, -55.0, 1e-5),
            Difference("error_rate", 0.075, 0.011, 0.064, 0.034, 0.092, 0.0004),
            Difference("quality_mean", None, None, None, None, None, None),
        ],
        cloud_escalation_rate=0.0375,
        shadow=None,
        quality_source="quality",
    )


def drift() -> VersionDrift:
    """Model tagger in fleet shop: 2.2.0 is new, worse than 2.1.0, one device stuck."""
    since = datetime(2025, 1, 1, 0, 0, tzinfo=UTC)
    return VersionDrift(
        fleet="shop",
        model="tagger",
        newest_version="2.2.0",
        dominant_version="2.1.0",
        live_versions=2,
        active_devices=20,
        skew=0.75,
        versions=[
            VersionShare("2.2.0", 5, 0.25, 120, datetime(2025, 1, 2, 11, 1, tzinfo=UTC)),
            VersionShare("2.1.0", 15, 0.75, 867, since),
        ],
        stuck_devices=1,
        stuck=[
            StuckDevice("galaxy-a14-09", "galaxy-a14", "5.1", "2.1.0", since, END),
        ],
        canaries=[
            CanaryComparison(
                version="2.2.0",
                reference_version="2.1.0",
                status="degraded",
                segments=1,
                metrics=metrics(
                    error_rate=0.225, fallback_rate=0.125, latency_p95_ms=193.0, quality_mean=0.704
                ),
                reference_metrics=metrics(
                    error_rate=0.025, fallback_rate=0.025, latency_p95_ms=60.0, quality_mean=0.881
                ),
                findings=[
                    Finding(
                        metric="error_rate",
                        window_value=0.225,
                        baseline_value=0.025,
                        relative_change=8.0,
                        p_value=1e-9,
                        p_adjusted=1e-8,
                        severity="degraded",
                        explanation="error rate 22.5% vs 2.5% on model_version 2.1.0 (+800%), "
                        "p<0.001",
                        reference="model_version 2.1.0",
                    )
                ],
            )
        ],
    )


def version_points() -> pd.DataFrame:
    """A version_series-like frame: two buckets, 2.2.0 appears in the second."""
    t0, t1 = WINDOW_START - timedelta(hours=1), WINDOW_START
    return pd.DataFrame(
        {
            "start": [t0, t1, t1],
            "version": ["2.1.0", "2.1.0", "2.2.0"],
            "devices": [20, 15, 5],
            "device_share": [1.0, 0.75, 0.25],
            "attempts": [200, 150, 50],
            "attempt_share": [1.0, 0.75, 0.25],
        }
    )


def alerts_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    columns = [
        "fingerprint",
        "rule",
        "severity",
        "state",
        "labels",
        "summary",
        "started_at",
        "resolved_at",
        "last_evaluated_at",
        "fleet",
        "value",
        "annotations",
        "active_since",
        "silenced_by",
    ]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class FakeSource:
    """A :class:`dashboard.source.Source` that returns what it was given and records calls."""

    fleet_names: list[str] = field(default_factory=lambda: ["shop"])
    health_report: HealthReport | None = None
    #: reports for particular splits (``by``); others get ``health_report``
    health_by: dict[tuple[str, ...], HealthReport] = field(default_factory=dict)
    series_frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    comparisons: list[TierComparison] = field(default_factory=list)
    drifts: list[VersionDrift] = field(default_factory=list)
    version_frame: pd.DataFrame = field(default_factory=version_points)
    alert_rows: pd.DataFrame = field(default_factory=lambda: alerts_frame([]))
    delivery_rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    silence_rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the what-if of each task, built with the goals asked for
    advices: dict[str, Callable[[Goals], Advice]] = field(default_factory=dict)
    objective_rows: list[ObjectiveStatus] = field(default_factory=list)
    request_groups: list[RequestGroup] = field(default_factory=list)
    objective_frame: pd.DataFrame = field(default_factory=pd.DataFrame)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def fleets(self, *, fleet: str | None) -> list[str]:
        self.calls.append(("fleets", {"fleet": fleet}))
        return [f for f in self.fleet_names if fleet is None or f == fleet]

    def health(self, period: TimeRange, *, by: Sequence[str], fleet: str | None) -> HealthReport:
        self.calls.append(("health", {"period": period, "by": list(by), "fleet": fleet}))
        if tuple(by) in self.health_by:
            return self.health_by[tuple(by)]
        assert self.health_report is not None
        return self.health_report

    def series(
        self, key: Mapping[str, str], *, start: datetime, end: datetime, step: int
    ) -> pd.DataFrame:
        self.calls.append(("series", {"key": dict(key), "start": start, "end": end, "step": step}))
        name = ",".join(f"{k}={v}" for k, v in sorted(key.items()))
        if name in self.series_frames:
            return self.series_frames[name]
        return series({"attempts": [0.0, 0.0, 0.0]}).assign(**_nan_metrics())

    def tiers(self, *, start: datetime, end: datetime, fleet: str | None) -> list[TierComparison]:
        self.calls.append(("tiers", {"start": start, "end": end, "fleet": fleet}))
        return self.comparisons

    def versions(self, period: TimeRange, *, fleet: str | None) -> list[VersionDrift]:
        self.calls.append(("versions", {"fleet": fleet}))
        return self.drifts

    def version_series(
        self, *, fleet: str, model: str, start: datetime, end: datetime, step: int
    ) -> pd.DataFrame:
        self.calls.append(("version_series", {"fleet": fleet, "model": model, "step": step}))
        return self.version_frame

    def alerts(self, *, fleet: str | None, states: Sequence[str] | None) -> pd.DataFrame:
        self.calls.append(("alerts", {"fleet": fleet, "states": states}))
        frame = self.alert_rows
        return frame if states is None else frame[frame["state"].isin(states)]

    def requests(self, period: TimeRange, *, fleet: str | None) -> RequestReport:
        self.calls.append(("requests", {"period": period, "fleet": fleet}))
        window = AnalyticsTimeRange(period.window_start, period.end)
        return RequestReport(window=window, by=["task", "tier"], groups=self.request_groups)

    def objectives(self, *, end: datetime, fleet: str | None) -> list[ObjectiveStatus]:
        self.calls.append(("objectives", {"end": end, "fleet": fleet}))
        return [o for o in self.objective_rows if fleet is None or o.fleet == fleet]

    def objective_series(self, *, name: str, kind: str, end: datetime, step: int) -> pd.DataFrame:
        self.calls.append(("objective_series", {"name": name, "kind": kind, "step": step}))
        return self.objective_frame

    def deliveries(self, *, fleet: str | None) -> pd.DataFrame:
        self.calls.append(("deliveries", {"fleet": fleet}))
        return self.delivery_rows

    def silences(self, *, fleet: str | None) -> pd.DataFrame:
        self.calls.append(("silences", {"fleet": fleet}))
        return self.silence_rows

    def advice_tasks(self, *, start: datetime, end: datetime, fleet: str | None) -> list[str]:
        self.calls.append(("advice_tasks", {"start": start, "end": end, "fleet": fleet}))
        return sorted(self.advices)

    def advice(
        self, *, task: str, start: datetime, end: datetime, fleet: str | None, goals: Goals
    ) -> Advice | None:
        self.calls.append(("advice", {"task": task, "fleet": fleet, "goals": goals}))
        build = self.advices.get(task)
        return None if build is None else build(goals)


def _nan_metrics() -> dict[str, float]:
    from analytics.metrics import METRICS

    return {m: np.nan for m in METRICS if m != "attempts"}


def context(source: FakeSource, *, fleet: str | None = None, dev: bool = True) -> Context:
    """A context on ``source`` with the fixed clock, signed in for ``fleet`` (None: all)."""
    return Context(
        source=source,
        analytics=AnalyticsSettings(),
        dev=dev,
        clock=lambda: NOW,
        principal=lambda: Principal(fleet=fleet, role="read"),
        endpoint=lambda: "http://tierwatch.example:4318",
    )
