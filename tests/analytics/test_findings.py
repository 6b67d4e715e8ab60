"""Findings: when a significant move matters, how severe it is, and a segment's status."""

from __future__ import annotations

import pytest

from analytics.config import MetricThreshold
from analytics.findings import Finding, classify, finding_order, status_of

THRESHOLD = MetricThreshold(warn=0.10, degraded=0.25, min_absolute=5.0)


@pytest.mark.parametrize(
    ("window", "reference", "worse", "expected"),
    [
        (None, 100.0, 1, None),  # no window value: nothing to judge
        (100.0, None, 1, None),  # no reference value: nothing to judge
        (100.0, 100.0, 1, None),  # no move at all
        (24.0, 20.0, 1, None),  # 20% relative but 4 < min_absolute 5
        (109.0, 100.0, 1, None),  # past min_absolute but 9% < warn 10%
        (25.0, 20.0, 1, ("degraded", "worse", 0.25)),  # exactly min_absolute counts
        (110.0, 100.0, 1, ("warn", "worse", 0.1)),  # exactly warn is a warning
        (124.0, 100.0, 1, ("warn", "worse", 0.24)),  # just below degraded
        (125.0, 100.0, 1, ("degraded", "worse", 0.25)),  # exactly degraded
        (150.0, 100.0, 1, ("degraded", "worse", 0.5)),  # far past degraded
        (80.0, 100.0, 1, ("ok", "better", -0.2)),  # lower is better: ok
        (50.0, 100.0, 1, ("ok", "better", -0.5)),  # however large, a better move is ok
        (80.0, 100.0, -1, ("warn", "worse", -0.2)),  # lower is worse (quality): warn
        (70.0, 100.0, -1, ("degraded", "worse", -0.3)),  # lower is worse, past degraded
        (120.0, 100.0, -1, ("ok", "better", 0.2)),  # higher is better: ok
        (10.0, 0.0, 1, ("degraded", "worse", None)),  # from zero: no relative change, degraded
        (3.0, 0.0, 1, None),  # from zero, but below min_absolute
        (10.0, 0.0, -1, ("ok", "better", None)),  # from zero in the better direction
        (0.0, 10.0, -1, ("degraded", "worse", -1.0)),  # to zero where lower is worse
    ],
)
def test_classify(
    window: float | None,
    reference: float | None,
    worse: int,
    expected: tuple[str, str, float | None] | None,
) -> None:
    assert classify(window, reference, worse=worse, threshold=THRESHOLD) == expected


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (MetricThreshold(warn=0.05, degraded=0.5), ("warn", "worse", 0.1)),  # warn lowered
        (MetricThreshold(warn=0.05, degraded=0.1), ("degraded", "worse", 0.1)),  # degraded lowered
        (MetricThreshold(warn=0.2, degraded=0.5), None),  # warn raised above the move
        (MetricThreshold(min_absolute=11.0), None),  # min_absolute raised above the move
    ],
)
def test_classify_reads_the_threshold_given(
    threshold: MetricThreshold, expected: tuple[str, str, float] | None
) -> None:
    assert classify(110.0, 100.0, worse=1, threshold=threshold) == expected


def _finding(severity: str, p_adjusted: float | None = 0.01, metric: str = "error_rate") -> Finding:
    return Finding(
        metric=metric,
        window_value=1.0,
        baseline_value=0.5,
        relative_change=1.0,
        p_value=p_adjusted,
        p_adjusted=p_adjusted,
        severity=severity,
        explanation="",
    )


@pytest.mark.parametrize(
    ("severities", "judged", "expected"),
    [
        ((), True, "ok"),  # judged without findings
        ((), False, "insufficient_data"),  # not judged, nothing found
        (("ok",), True, "ok"),  # only better moves
        (("ok", "warn"), True, "warn"),  # a warning among better moves
        (("warn", "degraded", "ok"), True, "degraded"),  # the worst finding decides
        (("degraded",), False, "degraded"),  # degraded beats not judged
        (("warn",), False, "insufficient_data"),  # a warning does not beat not judged
        (("ok",), False, "insufficient_data"),  # nor does a better move
    ],
)
def test_status_of(severities: tuple[str, ...], judged: bool, expected: str) -> None:
    findings = [_finding(s) for s in severities]
    assert status_of(findings, judged=judged) == expected


def test_finding_order_puts_worst_severity_then_strongest_evidence_first() -> None:
    findings = [
        _finding("ok", 0.0001, "a"),
        _finding("warn", 0.02, "b"),
        _finding("degraded", 0.04, "c"),
        _finding("warn", 0.001, "d"),
        _finding("degraded", 0.001, "e"),
        _finding("degraded", None, "f"),  # no p-value sorts as the strongest evidence
    ]
    assert [f.metric for f in sorted(findings, key=finding_order)] == ["f", "e", "c", "d", "b", "a"]


@pytest.mark.parametrize(
    ("severity", "p_adjusted", "key"),
    [
        ("degraded", 0.03, (-2, 0.03)),  # worst severity, lowest first component
        ("warn", 0.5, (-1, 0.5)),  # warn after degraded
        ("ok", None, (0, 0.0)),  # better moves last; a missing p-value counts as 0
    ],
)
def test_finding_order_key(severity: str, p_adjusted: float | None, key: tuple[int, float]) -> None:
    assert finding_order(_finding(severity, p_adjusted)) == key
