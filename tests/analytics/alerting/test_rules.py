"""Rules: candidates from health reports and metrics frames, and stable fingerprints."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from analytics.alerting.config import AlertRule
from analytics.alerting.rules import (
    degraded_candidates,
    fingerprint,
    privacy_candidates,
    threshold_candidates,
)
from analytics.baselines import Baseline
from analytics.findings import Finding, SegmentHealth
from analytics.health import HealthReport

END = datetime(2025, 1, 2, 12, 0, tzinfo=UTC)
BY = ["fleet", "tier", "task"]


def frame(*rows: dict[str, object]) -> pd.DataFrame:
    base = {"fleet": "robots", "tier": "device", "task": "photo-tag", "attempts": 100}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_fingerprint_is_stable_and_distinct() -> None:
    key = {"fleet": "robots", "tier": "device"}
    assert fingerprint("r", key) == fingerprint("r", {"tier": "device", "fleet": "robots"})
    # pinned: changing the hash would orphan every stored alert
    assert fingerprint("r", key) == "b8cc5f2a7e83293b"
    text = json.dumps({"rule": "r", "segment": key}, sort_keys=True)
    assert fingerprint("r", key) == hashlib.sha256(text.encode()).hexdigest()[:16]
    assert (
        len(
            {
                fingerprint("r", key),
                fingerprint("s", key),
                fingerprint("r", {"fleet": "robots", "tier": "edge"}),
            }
        )
        == 3
    )


def test_degraded_segments_raise_candidates() -> None:
    worse = Finding(
        metric="error_rate",
        window_value=0.2,
        baseline_value=0.03,
        relative_change=5.67,
        p_value=1e-9,
        p_adjusted=1e-8,
        severity="degraded",
        explanation="error rate 20.0% vs 3.0% baseline (+567%), p<0.001",
    )
    report = HealthReport(
        segments=[
            SegmentHealth(
                key={"fleet": "robots", "tier": "device", "task": "photo-tag"},
                status="degraded",
                metrics={},
                findings=[worse],
            ),
            SegmentHealth(
                key={"fleet": "robots", "tier": "edge", "task": "photo-tag"},
                status="warn",
                metrics={},
            ),
            SegmentHealth(
                key={"fleet": "robots", "tier": "cloud", "task": "photo-tag"},
                status="ok",
                metrics={},
            ),
        ],
        window_start=END - timedelta(hours=1),
        window_end=END,
        baseline=Baseline("preceding", END - timedelta(hours=25), END - timedelta(hours=1)),
        by=tuple(BY),
        fleet=None,
        tests=18,
        fdr=0.05,
    )
    (cand,) = degraded_candidates(report, for_=timedelta(minutes=5))
    key = {"fleet": "robots", "tier": "device", "task": "photo-tag"}
    assert cand.rule == "segment_degraded"
    assert cand.fingerprint == fingerprint("segment_degraded", key)
    assert (cand.fleet, cand.severity, cand.for_) == ("robots", "critical", timedelta(minutes=5))
    assert cand.labels == {"alertname": "segment_degraded", "severity": "critical", **key}
    assert cand.summary == (
        "fleet=robots tier=device task=photo-tag is degraded: "
        "error rate 20.0% vs 3.0% baseline (+567%), p<0.001"
    )
    assert cand.annotations["window"] == "2025-01-02T11:00:00Z/2025-01-02T12:00:00Z"


def test_privacy_violations_raise_candidates() -> None:
    data = frame({"privacy_violations": 3}, {"tier": "cloud", "privacy_violations": 0})
    (cand,) = privacy_candidates(data, by=BY, window=timedelta(minutes=15), for_=timedelta(0))
    assert cand.summary == (
        "3 privacy violations in fleet=robots tier=device task=photo-tag in the last 15m: "
        "sensitive data ran on a tier the fleet's policy forbids"
    )
    assert (cand.rule, cand.value, cand.severity) == ("privacy_violation", 3.0, "critical")


RULE = AlertRule(
    name="device_p95",
    metric="latency_p95_ms",
    match={"tier": "device"},
    op=">",
    threshold=120,
    for_="5m",
    labels={"team": "mobile", "alertname": "not-this"},
    min_attempts=20,
)


@pytest.mark.parametrize(
    ("rows", "raised"),
    [
        # above the threshold on the matching tier
        ([{"latency_p95_ms": 180.0}], ["device"]),
        # at the threshold: not above
        ([{"latency_p95_ms": 120.0}], []),
        # another tier does not match the selector
        ([{"tier": "edge", "latency_p95_ms": 500.0}], []),
        # too few attempts to judge
        ([{"latency_p95_ms": 500.0, "attempts": 19}], []),
        # no value (NaN) is not judged
        ([{"latency_p95_ms": float("nan")}], []),
        # each matching segment on its own
        (
            [{"latency_p95_ms": 180.0}, {"task": "ocr", "latency_p95_ms": 130.0}],
            ["device", "device"],
        ),
    ],
)
def test_threshold_rule(rows: list[dict[str, object]], raised: list[str]) -> None:
    got = threshold_candidates(RULE, frame(*rows), by=BY, window=timedelta(minutes=15))
    assert [c.labels["tier"] for c in got] == raised


def test_threshold_candidate_text_and_labels() -> None:
    (cand,) = threshold_candidates(
        RULE, frame({"latency_p95_ms": 180.4, "attempts": 40}), by=BY, window=timedelta(minutes=15)
    )
    assert cand.summary == (
        "p95 latency 180 ms > 120 ms in fleet=robots tier=device task=photo-tag over the last 15m (40 attempts)"
    )
    # rule labels are added, but never replace alertname or the segment
    assert cand.labels == {
        "team": "mobile",
        "alertname": "device_p95",
        "severity": "warning",
        "fleet": "robots",
        "tier": "device",
        "task": "photo-tag",
    }
    assert (cand.value, cand.for_, cand.severity) == (180.4, timedelta(minutes=5), "warning")


@pytest.mark.parametrize(
    ("op", "value", "threshold", "fires"),
    [
        (">", 0.2, 0.15, True),
        (">=", 0.15, 0.15, True),
        ("<", 0.5, 0.6, True),
        ("<=", 0.6, 0.6, True),
        ("<", 0.7, 0.6, False),
    ],
)
def test_operators(op: str, value: float, threshold: float, fires: bool) -> None:
    rule = AlertRule(name="r", metric="fallback_rate", op=op, threshold=threshold)
    got = threshold_candidates(
        rule, frame({"fallback_rate": value}), by=BY, window=timedelta(minutes=15)
    )
    assert bool(got) is fires
