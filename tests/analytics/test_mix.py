"""Latency baselines at the window's mix of tasks: more slow requests are not a slowdown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.aggregates import Aggregates
from analytics.config import AnalyticsSettings
from analytics.estimates import estimate
from analytics.health import evaluate_health, plan_for
from analytics.histograms import LATENCY_VALUES
from analytics.judge import Observed
from analytics.metrics import grouping, segment_by
from analytics.mix import standardise, task_mix
from tests.analytics.synthetic import Profile, sample_aggregates, segment_key, segments_frame

PLAN = plan_for(
    datetime(2025, 1, 2, 12, tzinfo=UTC),
    window=timedelta(hours=1),
    baseline=timedelta(hours=24),
    settings=AnalyticsSettings(),
)
# one tier, two tasks whose latencies differ tenfold
KEYS = [
    segment_key(tier="cloud", task="photo-tag", model="tagger"),
    segment_key(tier="cloud", task="smart-reply", model="reply-lm"),
]
SEGMENTS = segments_frame(KEYS)
FAST, SLOW = (int(i) for i in SEGMENTS.index)


def _profiles(fast: int, slow: int, slow_ms: float = 1500.0) -> dict[int, Profile]:
    return {
        FAST: Profile(attempts=fast, latency_median_ms=100.0, latency_sigma=0.3),
        SLOW: Profile(attempts=slow, latency_median_ms=slow_ms, latency_sigma=0.3),
    }


def _median(grouped: Aggregates) -> float:
    return float(estimate("latency_p50_ms", grouped, local_requests=None).value[0])


def test_a_baseline_takes_the_windows_mix_of_tasks() -> None:
    rng = np.random.default_rng(1)
    window = sample_aggregates(_profiles(4_000, 6_000), rng)  # 60% slow
    baseline = sample_aggregates(_profiles(60_000, 40_000), rng)  # 40% slow
    groups = grouping(SEGMENTS, ("tier",))
    mix = task_mix(SEGMENTS, ("tier",), groups)
    assert mix is not None
    grouped = segment_by(baseline, SEGMENTS, groups).aggs
    mixed = standardise(mix, grouped, baseline, mix.cells(window))
    # as many attempts as the baseline had, in the window's proportions: 40% fast
    fast = mixed.latency[0][LATENCY_VALUES < 400].sum()
    assert mixed.latency[0].sum() == pytest.approx(100_000)
    assert fast == pytest.approx(40_000, rel=0.01)
    # the median then lies among the slow task's latencies, as in the window
    assert _median(grouped) < 200
    assert _median(mixed) > 1000
    # other sums are left as they were
    np.testing.assert_array_equal(mixed.sums, grouped.sums)


def test_a_task_missing_from_the_baseline_weighs_nothing() -> None:
    rng = np.random.default_rng(2)
    window = sample_aggregates(_profiles(4_000, 6_000), rng)
    baseline = sample_aggregates(_profiles(50_000, 0), rng)
    groups = grouping(SEGMENTS, ("tier",))
    mix = task_mix(SEGMENTS, ("tier",), groups)
    assert mix is not None
    grouped = segment_by(baseline, SEGMENTS, groups).aggs
    mixed = standardise(mix, grouped, baseline, mix.cells(window))
    np.testing.assert_allclose(mixed.latency, grouped.latency)


def test_a_report_split_by_task_has_no_mix() -> None:
    groups = grouping(SEGMENTS, ("tier", "task"))
    assert task_mix(SEGMENTS, ("tier", "task"), groups) is None


def _judge(window: dict[int, Profile], baseline: dict[int, Profile], seed: int):
    rng = np.random.default_rng(seed)
    observed = Observed(SEGMENTS, sample_aggregates(window, rng), sample_aggregates(baseline, rng))
    report = evaluate_health(observed, PLAN, by=("tier",), fleet=None, settings=AnalyticsSettings())
    (segment,) = report.segments
    return segment


@pytest.mark.parametrize("seed", range(5))
def test_more_requests_of_a_slow_task_are_not_a_slowdown(seed: int) -> None:
    # the share of slow replies goes from 40% to 60%: the tier's median goes from
    # the fast task's latencies to the slow one's, and no task got slower
    segment = _judge(_profiles(4_000, 6_000), _profiles(60_000, 40_000), seed)
    assert _tier_latency_findings(segment) == []
    assert segment.status == "ok"


@pytest.mark.parametrize("seed", range(5))
def test_a_task_that_slows_down_still_slows_its_tier(seed: int) -> None:
    # the same mix, but the slow task is 40% slower
    segment = _judge(_profiles(5_000, 5_000, slow_ms=2100.0), _profiles(50_000, 50_000), seed)
    assert "latency_p95_ms" in _tier_latency_findings(segment)
    assert segment.status == "degraded"


def _tier_latency_findings(segment) -> list[str]:
    return [f.metric for f in segment.findings if f.metric.startswith("latency_")]
