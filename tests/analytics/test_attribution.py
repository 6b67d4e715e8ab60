"""Attribution: a sub-segment is named only when its change stands out from its siblings'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from analytics.attribution import Explained, explain_change
from analytics.config import AnalyticsSettings
from analytics.health import evaluate_health, plan_for
from analytics.judge import Observed
from tests.analytics.synthetic import Profile, sample_aggregates, segment_key, segments_frame

PLAN = plan_for(
    datetime(2025, 1, 2, 12, tzinfo=UTC),
    window=timedelta(hours=1),
    baseline=timedelta(hours=24),
    settings=AnalyticsSettings(),
)
MODELS = ("galaxy-a14", "galaxy-s21", "pixel-7", "iphone-13", "moto-g", "oppo-a5")
VERSIONS = ("2.1.0", "2.2.0")
KEYS = [segment_key(device_model=m, model_version=v) for m in MODELS for v in VERSIONS]
SEGMENTS = segments_frame(KEYS)


def _fleet(bad: dict[tuple[str, str], dict[str, float]], seed: int = 0):
    rng = np.random.default_rng(seed)
    base = Profile(attempts=80_000)
    window, baseline = {}, {}
    for i, key in zip(SEGMENTS.index, KEYS, strict=True):
        change = bad.get((key["device_model"], key["model_version"]), {})
        baseline[i] = base
        window[i] = base.degraded(attempts=20_000, **change)
    return sample_aggregates(window, rng), sample_aggregates(baseline, rng)


@pytest.mark.parametrize(
    ("bad", "metric", "named"),
    [
        # one device model on one version: both dimensions are named
        (
            {("galaxy-a14", "2.2.0"): {"error_rate": 0.20}},
            "error_rate",
            [{"device_model": "galaxy-a14", "model_version": "2.2.0"}],
        ),
        # a whole version: the version alone, not three of its device models
        (
            {(m, "2.2.0"): {"error_rate": 0.08} for m in MODELS},
            "error_rate",
            [{"model_version": "2.2.0"}],
        ),
        # latency of one device model on both versions
        (
            {("pixel-7", v): {"latency_median_ms": 300.0} for v in VERSIONS},
            "latency_p95_ms",
            [{"device_model": "pixel-7"}],
        ),
    ],
)
def test_explain_change_names_the_segments_that_stand_out(
    bad: dict[tuple[str, str], dict[str, float]], metric: str, named: list[dict[str, str]]
) -> None:
    window, baseline = _fleet(bad)
    explained = explain_change(
        metric,
        window=window,
        baseline=baseline,
        segments=SEGMENTS,
        dimensions=("device_model", "model_version", "region"),
        worse=1,
    )
    assert [p.key for p in explained.parts] == named
    assert explained.across == ()
    assert 0.8 <= sum(p.share for p in explained.parts) <= 1.0


@pytest.mark.parametrize("seed", range(5))
def test_a_change_shared_evenly_names_no_part(seed: int) -> None:
    # every device model on every version got 25% slower: no sub-segment stands out
    window, baseline = _fleet(
        {(m, v): {"latency_median_ms": 150.0} for m in MODELS for v in VERSIONS}, seed=seed
    )
    explained = explain_change(
        "latency_p95_ms",
        window=window,
        baseline=baseline,
        segments=SEGMENTS,
        dimensions=("device_model", "model_version", "region"),
        worse=1,
    )
    assert explained == Explained(parts=(), across=("device_model", "model_version"))


def test_shares_never_pass_one_when_siblings_improve() -> None:
    # galaxy-a14 gets worse while two other models get better: its share is capped at 100%
    bad = {("galaxy-a14", v): {"error_rate": 0.12} for v in VERSIONS}
    bad.update({(m, v): {"error_rate": 0.02} for m in ("pixel-7", "moto-g") for v in VERSIONS})
    window, baseline = _fleet(bad)
    explained = explain_change(
        "error_rate",
        window=window,
        baseline=baseline,
        segments=SEGMENTS,
        dimensions=("device_model", "model_version"),
        worse=1,
    )
    assert [p.key for p in explained.parts] == [{"device_model": "galaxy-a14"}]
    assert 0.9 <= explained.parts[0].share <= 1.0


def test_health_report_attributes_a_tier_degradation() -> None:
    window, baseline = _fleet({("galaxy-a14", "2.2.0"): {"error_rate": 0.20}})
    observed = Observed(segments=SEGMENTS, window=window, preceding=baseline)
    report = evaluate_health(observed, PLAN, by=("tier",), fleet=None, settings=AnalyticsSettings())
    (device,) = report.segments
    assert device.key == {"tier": "device"}
    assert device.status == "degraded"
    error = next(f for f in device.findings if f.metric == "error_rate")
    (part,) = error.attribution
    assert part.key == {"device_model": "galaxy-a14", "model_version": "2.2.0"}
    assert part.window_attempts == 20_000
    assert part.share == pytest.approx(1.0, abs=0.1)
    assert part.window_value == pytest.approx(0.20, abs=0.01)


def test_no_attribution_when_nothing_got_worse() -> None:
    window, baseline = _fleet({("pixel-7", "2.1.0"): {"error_rate": 0.01}})
    explained = explain_change(
        "error_rate",
        window=window,
        baseline=baseline,
        segments=SEGMENTS,
        dimensions=("device_model", "model_version"),
        worse=1,
    )
    assert explained == Explained()
