"""Tier comparison: each local tier against the cloud, and agreement with cloud shadows."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import Engine

from analytics import aggregates
from analytics.aggregates import SUM_INDEX, Aggregates
from analytics.significance import proportion_difference_interval
from analytics.tiers import (
    Difference,
    ShadowAgreement,
    compare_tier_pair,
    compare_tiers,
    read_shadow_agreement,
    tier_comparison,
)
from collector import buckets
from collector.normalise import AttemptRow
from tests.analytics.attempts import attempt, store
from tests.analytics.synthetic import segment_key, segments_frame

Quality = tuple[float, float, float]


def _side(
    attempts: int,
    *,
    errors: int = 0,
    fallbacks: int = 0,
    latency_ms: float = 100.0,
    quality: Quality = (0.0, 0.0, 0.0),
    requests: int | None = None,
    escalations: int = 0,
    label: int = 0,
) -> Aggregates:
    """One row of aggregates: every attempt at ``latency_ms``; quality as (count, sum, sq_sum)."""
    out = aggregates.empty([label])
    values = {
        "attempts": attempts,
        "requests": attempts if requests is None else requests,
        "errors": errors,
        "fallbacks": fallbacks,
        "cloud_escalations": escalations,
        "latency_ms_sum": attempts * latency_ms,
        "quality_count": quality[0],
        "quality_sum": quality[1],
        "quality_sq_sum": quality[2],
    }
    for name, value in values.items():
        out.sums[0, SUM_INDEX[name]] = value
    if attempts:
        out.latency[0, buckets.latency_bucket(latency_ms) - buckets.MIN_LATENCY_BUCKET] = attempts
    return out


def _quality(values: list[float]) -> Quality:
    return (float(len(values)), float(sum(values)), float(sum(v * v for v in values)))


def _value(latency_ms: float) -> float:
    """The value the histograms report for a latency (its bucket's)."""
    return buckets.latency_bucket_value(buckets.latency_bucket(latency_ms))


LOCAL_QUALITY = [0.75] * 20 + [0.5] * 20
CLOUD_QUALITY = [1.0] * 25 + [0.75] * 25


def test_compare_tier_pair_differences() -> None:
    local = _side(200, errors=10, fallbacks=30, latency_ms=100.0, quality=_quality(LOCAL_QUALITY))
    cloud = _side(200, errors=4, fallbacks=10, latency_ms=250.0, quality=_quality(CLOUD_QUALITY))
    differences, source = compare_tier_pair(local, cloud)
    assert source == "quality"
    by_metric = {d.metric: d for d in differences}
    assert list(by_metric) == [
        "latency_p50_ms",
        "latency_p95_ms",
        "fallback_rate",
        "error_rate",
        "quality_mean",
    ]
    # every attempt in one bucket per side: the percentiles are those buckets, exactly known
    latency_p = stats.chi2_contingency([[200, 0], [0, 200]], correction=False).pvalue
    gap = _value(100.0) - _value(250.0)
    for metric in ("latency_p50_ms", "latency_p95_ms"):
        d = by_metric[metric]
        assert (d.local_value, d.cloud_value, d.difference) == (_value(100.0), _value(250.0), gap)
        assert (d.ci_low, d.ci_high) == (gap, gap)
        assert d.p_value == pytest.approx(latency_p, rel=1e-9)
    fallback = by_metric["fallback_rate"]
    assert (fallback.local_value, fallback.cloud_value) == (0.15, 0.05)
    assert fallback.difference == pytest.approx(0.10, rel=1e-12)
    newcombe = proportion_difference_interval(30, 200, 10, 200)
    assert (fallback.ci_low, fallback.ci_high) == (newcombe.low, newcombe.high)
    assert fallback.p_value == pytest.approx(
        stats.chi2_contingency([[30, 170], [10, 190]], correction=False).pvalue, rel=1e-9
    )
    error = by_metric["error_rate"]
    assert (error.local_value, error.cloud_value) == (0.05, 0.02)
    assert error.p_value == pytest.approx(
        stats.chi2_contingency([[10, 190], [4, 196]], correction=False).pvalue, rel=1e-9
    )
    quality = by_metric["quality_mean"]
    assert (quality.local_value, quality.cloud_value, quality.difference) == (0.625, 0.875, -0.25)
    welch = stats.ttest_ind(LOCAL_QUALITY, CLOUD_QUALITY, equal_var=False)
    assert quality.p_value == pytest.approx(welch.pvalue, rel=1e-9)
    interval = welch.confidence_interval(0.95)
    assert (quality.ci_low, quality.ci_high) == (
        pytest.approx(interval.low, rel=1e-9),
        pytest.approx(interval.high, rel=1e-9),
    )


def _alternating(n: int, a: float, b: float) -> list[float]:
    """``n`` values alternating between ``a`` and ``b`` (an even ``n`` has mean ``(a + b) / 2``)."""
    return [a if i % 2 == 0 else b for i in range(n)]


AGREEMENT = ShadowAgreement(pairs=60, values=50, mean=0.9, ci_low=0.85, ci_high=0.95)


@pytest.mark.parametrize(
    ("local_values", "cloud_values", "agreement", "min_values", "source", "quality"),
    [
        # both sides reported enough quality values: those are compared
        (40, 50, None, 30, "quality", ("quality_mean", 0.625, 0.875)),
        # reported values win over shadow agreement
        (40, 50, AGREEMENT, 30, "quality", ("quality_mean", 0.625, 0.875)),
        # exactly min_values on each side is enough
        (30, 30, None, 30, "quality", ("quality_mean", 0.625, 0.875)),
        # too few local values: the agreement with cloud shadows stands in
        (10, 50, AGREEMENT, 30, "shadow_agreement", ("quality_mean", 0.9, None)),
        # too few cloud values, same
        (40, 10, AGREEMENT, 30, "shadow_agreement", ("quality_mean", 0.9, None)),
        # too few values and no agreement: no quality at all
        (10, 50, None, 30, None, None),
        # an agreement on too few values does not count
        (10, 50, AGREEMENT, 51, None, None),
        # an agreement without any value does not count
        (10, 50, ShadowAgreement(60, 0, None, None, None), 30, None, None),
    ],
)
def test_quality_source(
    local_values: int,
    cloud_values: int,
    agreement: ShadowAgreement | None,
    min_values: int,
    source: str | None,
    quality: tuple[str, float, float | None] | None,
) -> None:
    local = _side(200, quality=_quality(_alternating(local_values, 0.75, 0.5)))
    cloud = _side(200, quality=_quality(_alternating(cloud_values, 1.0, 0.75)))
    differences, got = compare_tier_pair(local, cloud, agreement=agreement, min_values=min_values)
    assert got == source
    found = [d for d in differences if d.metric == "quality_mean"]
    if quality is None:
        assert found == []
        return
    (d,) = found
    assert (d.metric, d.local_value, d.cloud_value) == quality
    if source == "shadow_agreement":
        assert d == Difference("quality_mean", 0.9, None, None, 0.85, 0.95, None)


def test_compare_tier_pair_against_a_side_without_attempts() -> None:
    differences, source = compare_tier_pair(_side(100, errors=3), _side(0))
    assert source is None
    assert differences == [
        Difference("latency_p50_ms", _value(100.0), None, None, None, None, None),
        Difference("latency_p95_ms", _value(100.0), None, None, None, None, None),
        Difference("fallback_rate", None, None, None, None, None, None),
        Difference("error_rate", None, None, None, None, None, None),
    ]


TIER_KEYS = [
    segment_key(tier="device", device_model="pixel-7"),  # 1
    segment_key(tier="device", device_model="galaxy-a14"),  # 2
    segment_key(tier="edge", node="edge-1"),  # 3
    segment_key(tier="cloud", node="cloud-1"),  # 4
    segment_key(tier="device", task="asr", device_model="pixel-7"),  # 5: asr has no cloud
    segment_key(fleet="fleet-b", tier="edge", node="edge-9"),  # 6: no attempts
    segment_key(fleet="fleet-b", tier="cloud", node="cloud-1"),  # 7
    segment_key(fleet="fleet-b", tier="device", device_model="pixel-7"),  # 8
]
TIER_SEGMENTS = segments_frame(TIER_KEYS)


def _served() -> Aggregates:
    rows = [
        _side(100, errors=5, label=1),
        _side(50, errors=5, label=2),
        _side(40, errors=2, label=3),
        _side(60, requests=30, escalations=30, label=4, latency_ms=250.0),
        _side(70, label=5),
        _side(0, label=6),
        _side(10, requests=5, escalations=5, label=7),
        _side(20, errors=1, label=8),
    ]
    return aggregates.combine(rows)


def test_compare_tiers_pairs_each_local_tier_with_its_cloud() -> None:
    comparisons = compare_tiers(TIER_SEGMENTS, _served())
    assert [(c.fleet, c.task, c.tier) for c in comparisons] == [
        ("fleet-a", "photo-tag", "device"),
        ("fleet-a", "photo-tag", "edge"),
        ("fleet-b", "photo-tag", "device"),
    ]
    device, edge, other = comparisons
    # the two hardware classes of the device tier are one side
    assert (device.local["attempts"], device.local["errors"]) == (150, 10)
    assert device.local["error_rate"] == 10 / 150
    assert (edge.local["attempts"], edge.local["error_rate"]) == (40, 0.05)
    assert device.cloud == edge.cloud
    assert (device.cloud["attempts"], device.cloud["requests"]) == (60, 30)
    # escalations per request that started on a local tier of the task (150 + 40)
    assert device.cloud_escalation_rate == edge.cloud_escalation_rate == 30 / 190
    assert (other.local["attempts"], other.cloud["attempts"]) == (20, 10)
    assert other.cloud_escalation_rate == 0.25
    assert all((c.shadow, c.quality_source) == (None, None) for c in comparisons)


def test_compare_tiers_uses_the_agreement_of_its_own_tier() -> None:
    agreements = {("fleet-a", "photo-tag", "edge"): AGREEMENT}
    comparisons = {
        c.tier: c for c in compare_tiers(TIER_SEGMENTS, _served(), agreements=agreements)
    }
    assert (comparisons["edge"].shadow, comparisons["edge"].quality_source) == (
        AGREEMENT,
        "shadow_agreement",
    )
    assert (comparisons["device"].shadow, comparisons["device"].quality_source) == (None, None)


def test_compare_tiers_without_cloud_attempts_is_empty() -> None:
    served = aggregates.combine([_side(100, label=1), _side(40, label=3), _side(0, label=4)])
    assert compare_tiers(TIER_SEGMENTS, served) == []


# -- against the store --------------------------------------------------------------------------

T0 = int(datetime(2025, 1, 2, 10, tzinfo=UTC).timestamp())
START, END = datetime(2025, 1, 2, 10, tzinfo=UTC), datetime(2025, 1, 2, 11, tzinfo=UTC)
CLOUD = {"tier": "cloud", "device_model": None, "node": "cloud-1"}


def _fleet() -> tuple[list[AttemptRow], list[float]]:
    """Device requests with cloud shadows on most of them; the agreement values expected."""
    rows, values = [], []
    for i in range(40):
        trace = (1000 + i).to_bytes(16, "big")
        at = T0 + 60 * i
        served_quality = 0.25 if i % 4 == 3 else None
        rows.append(attempt(at, trace=trace, quality=served_quality))
        if i < 33:
            # the shadow's quality where it has one, else the served attempt's, else none
            shadow_quality = None if i % 4 == 3 or i == 32 else 1.0
            rows.append(attempt(at + 1, trace=trace, shadow=True, quality=shadow_quality, **CLOUD))
            value = shadow_quality if shadow_quality is not None else served_quality
            if value is not None:
                values.append(value)
    rows += [attempt(T0 + 90 * i, **CLOUD) for i in range(30)]
    # a shadowed edge request after the window, and another fleet's
    trace = b"\x07" * 16
    rows.append(attempt(T0 + 3600, trace=trace, tier="edge", device_model=None, node="edge-1"))
    rows.append(attempt(T0 + 3601, trace=trace, shadow=True, quality=0.5, **CLOUD))
    trace = b"\x08" * 16
    rows.append(attempt(T0 + 60, trace=trace, fleet="fleet-b"))
    rows.append(attempt(T0 + 61, trace=trace, fleet="fleet-b", shadow=True, quality=0.5, **CLOUD))
    return rows, values


def _expected_agreement(values: list[float], pairs: int) -> ShadowAgreement:
    mean = float(np.mean(values))
    half = stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values))
    return ShadowAgreement(
        pairs=pairs,
        values=len(values),
        mean=mean,
        ci_low=pytest.approx(mean - half, rel=1e-9),  # type: ignore[arg-type]
        ci_high=pytest.approx(mean + half, rel=1e-9),  # type: ignore[arg-type]
    )


def test_read_shadow_agreement(engine: Engine) -> None:
    rows, values = _fleet()
    store(engine, rows, received=T0 + 7200)
    with engine.connect() as conn:
        window = read_shadow_agreement(conn, start=T0, end=T0 + 3600, fleets=["fleet-a"])
        both = read_shadow_agreement(conn, start=T0, end=T0 + 7200, fleets=["fleet-a", "fleet-b"])
        none = read_shadow_agreement(conn, start=T0, end=T0 + 3600, fleets=[])
    # 33 pairs; one has no quality on either side
    assert (len(values), sum(values)) == (32, 26.0)
    assert window == {("fleet-a", "photo-tag", "device"): _expected_agreement(values, 33)}
    assert set(both) == {
        ("fleet-a", "photo-tag", "device"),
        ("fleet-a", "photo-tag", "edge"),
        ("fleet-b", "photo-tag", "device"),
    }
    assert both[("fleet-b", "photo-tag", "device")] == ShadowAgreement(1, 1, 0.5, None, None)
    assert none == {}


def test_tier_comparison(engine: Engine) -> None:
    rows, values = _fleet()
    store(engine, rows, received=T0 + 7200)
    with engine.connect() as conn:
        (device,) = tier_comparison(conn, start=START, end=END)
        assert tier_comparison(conn, start=START, end=END, min_values=33)[0].quality_source is None
        assert tier_comparison(conn, start=START, end=END, task="asr") == []
        assert tier_comparison(conn, start=START, end=END, fleet="fleet-b") == []
    assert (device.fleet, device.task, device.tier) == ("fleet-a", "photo-tag", "device")
    assert (device.local["attempts"], device.cloud["attempts"]) == (40, 30)
    # 10 device attempts reported a quality themselves: too few, so shadows stand in
    assert device.local["quality_count"] == 10
    assert device.quality_source == "shadow_agreement"
    assert device.shadow == _expected_agreement(values, 33)
    quality = next(d for d in device.differences if d.metric == "quality_mean")
    assert (quality.local_value, quality.cloud_value) == (26.0 / 32, None)
