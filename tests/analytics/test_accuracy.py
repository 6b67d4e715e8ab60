"""Accuracy: injected degradations are found, untouched segments are left alone.

Synthetic fleets are drawn from known profiles (see :mod:`tests.analytics.synthetic`)
straight into rollup sums and histograms, then judged by the same pure function the
health report uses. Over many seeds, every degradation of 25% or more in a segment
with enough data must be found, and untouched segments may be flagged (warn or
degraded) in at most 5% of reports.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.config import AnalyticsSettings
from analytics.health import HealthReport, evaluate_health, plan_for
from analytics.judge import Observed
from collector.schema import SEGMENT_DIMENSIONS
from tests.analytics.synthetic import Profile, sample_aggregates, segment_key, segments_frame

SEEDS = range(60)
WINDOW, BASELINE = 40_000, 160_000
PLAN = plan_for(
    datetime(2025, 1, 2, 12, tzinfo=UTC),
    window=timedelta(hours=1),
    baseline=timedelta(hours=24),
    settings=AnalyticsSettings(),
)


def _evaluate(segments, window, baseline, *, by, settings) -> HealthReport:  # type: ignore[no-untyped-def]
    """Judge ``window`` against the day before it (an explicit baseline, as on a flat history)."""
    observed = Observed(segments=segments, window=window, preceding=baseline)
    return evaluate_health(observed, PLAN, by=by, fleet=None, settings=settings)


#: name -> (segment key, the window's change of the profile); baseline is the plain profile.
INJECTED = {
    "latency": (segment_key(device_model="pixel-7"), {"latency_median_ms": 150.0}),
    "error": (segment_key(device_model="iphone-13"), {"error_rate": 0.05}),
    "fallback": (segment_key(device_model="moto-g"), {"fallback_rate": 0.10}),
    "quality": (segment_key(tier="edge", node="edge-1"), {"quality_mean": 0.60}),
    "confidence": (segment_key(tier="edge", node="edge-2"), {"confidence_mean": 0.60}),
}
#: The finding each injection must produce.
EXPECTED_METRIC = {
    "latency": {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms"},
    "error": {"error_rate"},
    "fallback": {"fallback_rate"},
    "quality": {"quality_mean"},
    "confidence": {"confidence_mean"},
}
UNTOUCHED = [
    segment_key(device_model=name)
    for name in ("galaxy-a14", "galaxy-s21", "pixel-6", "iphone-12", "xiaomi-12", "oppo-a5")
] + [
    segment_key(tier="edge", node="edge-3"),
    segment_key(tier="cloud", node="cloud-1"),
    segment_key(tier="cloud", node="cloud-2"),
]
#: A new version rolled out in the window only, worse than the version it replaces.
BAD_VERSION = segment_key(device_model="galaxy-a14", model_version="2.2.0")

ALL = [key for key, _ in INJECTED.values()] + UNTOUCHED + [BAD_VERSION]
SEGMENTS = segments_frame(ALL)
ID = {tuple(k.values()): i for i, k in zip(SEGMENTS.index, ALL, strict=True)}


def _report(seed: int, *, inject: bool, settings: AnalyticsSettings) -> HealthReport:
    rng = np.random.default_rng(seed)
    base = Profile(attempts=BASELINE)
    window: dict[int, Profile] = {}
    baseline: dict[int, Profile] = {}
    for key, change in INJECTED.values():
        i = ID[tuple(key.values())]
        baseline[i] = base
        window[i] = base.degraded(attempts=WINDOW, **(change if inject else {}))
    for key in UNTOUCHED:
        i = ID[tuple(key.values())]
        baseline[i], window[i] = base, base.degraded(attempts=WINDOW)
    if inject:
        bad = base.degraded(attempts=WINDOW // 4, error_rate=0.06, latency_median_ms=160.0)
        window[ID[tuple(BAD_VERSION.values())]] = bad
    return _evaluate(
        SEGMENTS,
        sample_aggregates(window, rng),
        sample_aggregates(baseline, rng),
        by=SEGMENT_DIMENSIONS,
        settings=settings,
    )


def _flagged(report: HealthReport, keys: list[dict[str, str]]) -> list[dict[str, str]]:
    untouched = [tuple(k.values()) for k in keys]
    return [
        s.key
        for s in report.segments
        if tuple(s.key.values()) in untouched and s.status in ("warn", "degraded")
    ]


def test_injected_degradations_are_found_and_untouched_segments_are_not() -> None:
    settings = AnalyticsSettings()
    reports_with_false_flags = 0
    for seed in SEEDS:
        report = _report(seed, inject=True, settings=settings)
        by_key = {tuple(s.key.values()): s for s in report.segments}
        for name, (key, _) in INJECTED.items():
            segment = by_key[tuple(key.values())]
            worse = {f.metric for f in segment.findings if f.direction == "worse"}
            # every injection is found, with the metric it changed, as warn or degraded
            assert worse & EXPECTED_METRIC[name], (seed, name, segment.findings)
            assert segment.status in ("warn", "degraded"), (seed, name)
        bad = by_key[tuple(BAD_VERSION.values())]
        # the bad rollout has no baseline of its own: the canary comparison finds it
        assert bad.status == "degraded", (seed, bad.findings)
        assert {f.reference for f in bad.findings} == {"model_version 2.1.0"}
        assert {"error_rate"} <= {f.metric for f in bad.findings}
        if _flagged(report, UNTOUCHED):
            reports_with_false_flags += 1
    assert reports_with_false_flags <= 0.05 * len(SEEDS)


def test_a_fleet_without_changes_is_rarely_flagged() -> None:
    settings = AnalyticsSettings()
    flagged = sum(
        1 for seed in SEEDS if _flagged(_report(seed, inject=False, settings=settings), ALL)
    )
    assert flagged <= 0.05 * len(SEEDS)


def test_explanations_name_values_change_and_p() -> None:
    report = _report(0, inject=True, settings=AnalyticsSettings())
    latency = next(s for s in report.segments if s.key["device_model"] == "pixel-7").findings
    text = next(f.explanation for f in latency if f.metric.startswith("latency_"))
    # e.g. "p95 latency 307 ms vs 245 ms baseline (+25%), p<0.001"
    assert text.startswith(("p50 latency ", "p95 latency ", "p99 latency "))
    assert " ms vs " in text and " ms baseline (+" in text and text.endswith("%), p<0.001")


def test_small_segments_are_insufficient_data() -> None:
    rng = np.random.default_rng(1)
    segments = segments_frame([segment_key(device_model="rare")])
    report = _evaluate(
        segments,
        sample_aggregates({1: Profile(attempts=50, error_rate=0.5)}, rng),
        # about 83 an hour: always small, so its 50 are not a silence either
        sample_aggregates({1: Profile(attempts=2_000)}, rng),
        by=("device_model",),
        settings=AnalyticsSettings(),
    )
    # 50 attempts are fewer than min_attempts (100): no verdict, not "ok"
    assert [(s.key, s.status, s.findings) for s in report.segments] == [
        ({"device_model": "rare"}, "insufficient_data", [])
    ]


@pytest.mark.parametrize(
    ("window_attempts", "baseline_attempts", "status"),
    [
        (5_000, 5_000, "ok"),  # enough on both sides, nothing changed
        (5_000, 50, "insufficient_data"),  # too little baseline
        (99, 5_000, "insufficient_data"),  # too little window
    ],
)
def test_minimum_sizes(window_attempts: int, baseline_attempts: int, status: str) -> None:
    rng = np.random.default_rng(7)
    segments = segments_frame([segment_key()])
    report = _evaluate(
        segments,
        sample_aggregates({1: Profile(attempts=window_attempts)}, rng),
        sample_aggregates({1: Profile(attempts=baseline_attempts)}, rng),
        by=("tier",),
        settings=AnalyticsSettings(),
    )
    assert [s.status for s in report.segments] == [status]


def test_a_huge_fleet_is_not_flagged_for_a_trivial_shift() -> None:
    # 5% more errors on ten million attempts is significant but below the 10% threshold
    rng = np.random.default_rng(3)
    segments = segments_frame([segment_key()])
    report = _evaluate(
        segments,
        sample_aggregates({1: Profile(attempts=10_000_000, error_rate=0.042)}, rng),
        sample_aggregates({1: Profile(attempts=10_000_000, error_rate=0.040)}, rng),
        by=("tier",),
        settings=AnalyticsSettings(),
    )
    (segment,) = report.segments
    assert segment.status == "ok"
    assert [f.metric for f in segment.findings] == []
