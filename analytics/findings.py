"""Judge segments: window against baseline, tests per metric, FDR, findings and status.

Pure functions over grouped aggregates. For every segment with enough data each
tested metric is compared with the baseline by a test that fits it (two
proportions for rates, histograms for latency and confidence, Welch for quality);
when the report is split by ``model_version`` each version is also compared with
the previous dominant version of the same segment (the canary comparison). The
Benjamini-Hochberg procedure adjusts all p-values of the report together. A test
becomes a finding when its adjusted p-value is within the FDR level and its
change passes the metric's practical-significance threshold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analytics.aggregates import Aggregates, reindex
from analytics.attribution import Contribution, explain_change
from analytics.config import AnalyticsSettings, MetricThreshold, Rules
from analytics.histograms import LATENCY_VALUES, psi, quantiles
from analytics.metrics import Grouping, Segmented, metric_dict, segment_metrics
from analytics.significance import (
    Significance,
    benjamini_hochberg,
    histogram_test,
    two_proportion_test,
    welch_test,
)
from collector.schema import SEGMENT_DIMENSIONS

#: Statuses, from best to worst; ``insufficient_data`` when a segment cannot be judged.
STATUSES = ("ok", "warn", "degraded", "insufficient_data")
#: Finding severities: ``ok`` for a move in the better direction.
SEVERITIES = ("ok", "warn", "degraded")
BASELINE = "baseline"
#: +1 when a rise of the tested metric is worse, -1 when a fall is.
WORSE = {
    "error_rate": 1,
    "fallback_rate": 1,
    "cloud_escalation_rate": 1,
    "latency": 1,
    "confidence": -1,
    "quality": -1,
}
_LABELS = {
    "error_rate": "error rate",
    "fallback_rate": "fallback rate",
    "cloud_escalation_rate": "cloud escalation rate",
    "latency_p50_ms": "p50 latency",
    "latency_p95_ms": "p95 latency",
    "latency_p99_ms": "p99 latency",
    "confidence_mean": "mean confidence",
    "quality_mean": "mean quality",
}
_QUANTILES = (("latency_p95_ms", 0.95), ("latency_p50_ms", 0.5), ("latency_p99_ms", 0.99))


@dataclass(frozen=True)
class Finding:
    """One metric of one segment that moved, with its evidence.

    ``reference`` is ``"baseline"`` for the segment's own baseline, or
    ``"model_version X"`` for a canary comparison with version X in the same window
    (then ``baseline_value`` is X's value). ``severity`` is ``warn`` or
    ``degraded`` for a move in the worse ``direction``, ``ok`` for one in the better.
    ``effect_size`` is the PSI for distribution tests. ``attribution`` names the
    sub-segments that explain most of a worse move.

    ``relative_change`` is (window - baseline) / baseline, ``p_adjusted`` the
    Benjamini-Hochberg adjusted p-value and ``test`` the test used, e.g. ``chi2_2x2``,
    ``fisher_exact``, ``welch_t``.
    """

    metric: str
    window_value: float | None
    baseline_value: float | None
    relative_change: float | None
    p_value: float | None
    p_adjusted: float | None
    severity: str
    explanation: str
    direction: str = "worse"
    test: str = ""
    effect_size: float | None = None
    reference: str = BASELINE
    attribution: tuple[Contribution, ...] = ()


@dataclass(frozen=True)
class SegmentHealth:
    """The verdict on one segment: status, metrics of window and baseline, findings."""

    key: dict[str, str]
    status: str
    metrics: dict[str, float | int | None]
    baseline_metrics: dict[str, float | int | None] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class Verdicts:
    """The judged segments of one report and how many tests the FDR control covered."""

    segments: list[SegmentHealth]
    tests: int


@dataclass(frozen=True)
class _Test:
    """One test run: which segment, which metric, against what, and its outcome."""

    segment: int
    family: str
    metric: str
    reference: str
    window_value: float | None
    reference_value: float | None
    significance: Significance
    effect_size: float | None = None


@dataclass(frozen=True)
class _Side:
    """One row of grouped aggregates (a segment in the window, baseline or a canary)."""

    aggs: Aggregates
    index: int
    local_requests: float | None

    def sum(self, name: str) -> float:
        return float(self.aggs.column(name)[self.index])

    def ratio(self, num: str, den: str) -> float | None:
        d = self.sum(den)
        return self.sum(num) / d if d > 0 else None


def _value(x: float | None) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def run_tests(
    segment: int, window: _Side, reference: _Side, label: str, rules: Rules, exact_below: float
) -> list[_Test]:
    """Every test that fits the data of one segment against one reference."""
    tests: list[_Test] = []
    for family, num in (("error_rate", "errors"), ("fallback_rate", "fallbacks")):
        tests.append(
            _Test(
                segment,
                family,
                family,
                label,
                window.ratio(num, "attempts"),
                reference.ratio(num, "attempts"),
                two_proportion_test(
                    int(window.sum(num)),
                    int(window.sum("attempts")),
                    int(reference.sum(num)),
                    int(reference.sum("attempts")),
                    exact_below=exact_below,
                ),
            )
        )
    w_local, r_local = window.local_requests, reference.local_requests
    if (
        w_local is not None
        and r_local is not None
        and w_local >= rules.min_attempts
        and r_local >= rules.min_baseline_attempts
    ):
        w_esc, r_esc = window.sum("cloud_escalations"), reference.sum("cloud_escalations")
        tests.append(
            _Test(
                segment,
                "cloud_escalation_rate",
                "cloud_escalation_rate",
                label,
                w_esc / w_local,
                r_esc / r_local,
                two_proportion_test(
                    int(w_esc),
                    int(w_local),
                    int(r_esc),
                    int(r_local),
                    exact_below=exact_below,
                ),
            )
        )
    w_lat = window.aggs.latency[window.index]
    r_lat = reference.aggs.latency[reference.index]
    quantiles_w = quantiles(w_lat, [q for _, q in _QUANTILES], LATENCY_VALUES)[0]
    quantiles_r = quantiles(r_lat, [q for _, q in _QUANTILES], LATENCY_VALUES)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        moves = np.abs(quantiles_w / quantiles_r - 1)
    pick = int(np.nanargmax(moves)) if np.isfinite(moves).any() else 0
    tests.append(
        _Test(
            segment,
            "latency",
            _QUANTILES[pick][0],
            label,
            _value(quantiles_w[pick]),
            _value(quantiles_r[pick]),
            histogram_test(w_lat, r_lat),
            psi(w_lat, r_lat),
        )
    )
    if min(window.sum("confidence_count"), reference.sum("confidence_count")) >= rules.min_values:
        w_conf = window.aggs.confidence[window.index]
        r_conf = reference.aggs.confidence[reference.index]
        tests.append(
            _Test(
                segment,
                "confidence",
                "confidence_mean",
                label,
                window.ratio("confidence_sum", "confidence_count"),
                reference.ratio("confidence_sum", "confidence_count"),
                histogram_test(w_conf, r_conf),
                psi(w_conf, r_conf),
            )
        )
    if min(window.sum("quality_count"), reference.sum("quality_count")) >= rules.min_values:
        tests.append(
            _Test(
                segment,
                "quality",
                "quality_mean",
                label,
                window.ratio("quality_sum", "quality_count"),
                reference.ratio("quality_sum", "quality_count"),
                welch_test(
                    window.sum("quality_count"),
                    window.sum("quality_sum"),
                    window.sum("quality_sq_sum"),
                    reference.sum("quality_count"),
                    reference.sum("quality_sum"),
                    reference.sum("quality_sq_sum"),
                ),
            )
        )
    return tests


def classify(
    window_value: float | None,
    reference_value: float | None,
    *,
    worse: int,
    threshold: MetricThreshold,
) -> tuple[str, str, float | None] | None:
    """Severity, direction and relative change of a significant move, or ``None`` if trivial.

    A move counts when its absolute size reaches ``min_absolute`` and its relative
    size reaches ``warn`` (a move from zero counts by its absolute size). In the
    worse direction it is ``degraded`` from ``degraded`` on, else ``warn``; in the
    better direction its severity is ``ok``.
    """
    if window_value is None or reference_value is None:
        return None
    diff = window_value - reference_value
    if abs(diff) < threshold.min_absolute or diff == 0:
        return None
    relative = diff / reference_value if reference_value != 0 else None
    if relative is not None and abs(relative) < threshold.warn:
        return None
    if diff * worse < 0:
        return "ok", "better", relative
    if relative is None or abs(relative) >= threshold.degraded:
        return "degraded", "worse", relative
    return "warn", "worse", relative


def format_value(metric: str, value: float | None) -> str:
    """A metric value as people read it: rates in %, latency in ms, means to 2 decimals."""
    if value is None:
        return "n/a"
    if metric.endswith("_rate") or metric.endswith("_share"):
        pct = value * 100
        return f"{pct:.2f}%" if pct < 1 else f"{pct:.1f}%"
    if metric.endswith("_ms"):
        return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"
    if metric in ("confidence_mean", "quality_mean"):
        return f"{value:.3f}"
    return f"{value:g}"


def format_p(p: float) -> str:
    """``p<0.001`` or ``p=0.012``."""
    return "p<0.001" if p < 0.001 else f"p={p:.3f}"


def explain(test: _Test, p_adjusted: float, relative: float | None) -> str:
    """The one-line explanation of a finding.

    For example ``p95 latency 212 ms vs 140 ms baseline (+51%), p<0.001``.
    """
    label = _LABELS.get(test.metric, test.metric)
    change = "new" if relative is None else f"{relative * 100:+.0f}%"
    against = "baseline" if test.reference == BASELINE else f"on {test.reference}"
    text = (
        f"{label} {format_value(test.metric, test.window_value)} vs "
        f"{format_value(test.metric, test.reference_value)} {against} ({change})"
    )
    if test.effect_size is not None and test.family == "confidence":
        text += f", PSI {test.effect_size:.2f}"
    return f"{text}, {format_p(p_adjusted)}"


def to_finding(test: _Test, p_adjusted: float, fdr: float, rules: Rules) -> Finding | None:
    """The finding a test makes, or ``None`` when it is not significant or not practical."""
    if p_adjusted > fdr:
        return None
    verdict = classify(
        test.window_value,
        test.reference_value,
        worse=WORSE[test.family],
        threshold=rules.thresholds[test.family],
    )
    if verdict is None:
        return None
    severity, direction, relative = verdict
    return Finding(
        metric=test.metric,
        window_value=test.window_value,
        baseline_value=test.reference_value,
        relative_change=relative,
        p_value=test.significance.p_value,
        p_adjusted=p_adjusted,
        severity=severity,
        explanation=explain(test, p_adjusted, relative),
        direction=direction,
        test=test.significance.method,
        effect_size=_value(test.effect_size),
        reference=test.reference,
    )


def compare(
    window: Aggregates,
    reference: Aggregates,
    *,
    label: str,
    rules: Rules,
    settings: AnalyticsSettings,
    local_requests: tuple[float, float] | None = None,
) -> list[Finding]:
    """Findings of one-row ``window`` aggregates against one-row ``reference`` aggregates.

    The Benjamini-Hochberg adjustment covers these tests only; ``label`` names the
    reference in explanations (e.g. ``model_version 2.1.0``).
    """
    w_local, r_local = local_requests if local_requests is not None else (None, None)
    tests = run_tests(
        0,
        _Side(window, 0, w_local),
        _Side(reference, 0, r_local),
        label,
        rules,
        settings.exact_below,
    )
    adjusted = benjamini_hochberg([t.significance.p_value for t in tests])
    found = [
        to_finding(t, float(p), settings.fdr, rules) for t, p in zip(tests, adjusted, strict=True)
    ]
    out = [f for f in found if f is not None]
    out.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.p_adjusted or 0.0))
    return out


def status_of(findings: Sequence[Finding], *, judged: bool) -> str:
    """The status that ``findings`` give a segment (``judged``: it had enough data)."""
    return _status(findings, judged=judged)


def _privacy_finding(key: dict[str, str], window: float, baseline: float) -> Finding:
    where = f"tier {key['tier']}" if "tier" in key else "a tier"
    count = int(window)
    plural = "s" if count != 1 else ""
    return Finding(
        metric="privacy_violations",
        window_value=float(count),
        baseline_value=float(baseline),
        relative_change=None,
        p_value=None,
        p_adjusted=None,
        severity="degraded",
        explanation=(
            f"{count} privacy violation{plural}: sensitive data ran on {where} "
            "that the fleet's privacy policy forbids"
        ),
        direction="worse",
        test="policy",
    )


def judge(
    window: Segmented,
    baseline: Segmented,
    *,
    settings: AnalyticsSettings,
    fleet: str | None = None,
    groups: Grouping | None = None,
    segments: pd.DataFrame | None = None,
    window_by_segment: Aggregates | None = None,
    baseline_by_segment: Aggregates | None = None,
) -> Verdicts:
    """The health of every segment with window attempts, worst first.

    ``window`` and ``baseline`` must share their segment keys (same grouping). The
    per-segment-id aggregates, ``segments`` and ``groups`` are needed only to name
    the sub-segments behind a degradation (attribution); without them findings
    carry none.
    """
    by = window.by
    window_metrics = segment_metrics(window)
    baseline_metrics = segment_metrics(baseline)
    escalation = "tier" not in by
    attempts_w = window.aggs.column("attempts")
    attempts_b = baseline.aggs.column("attempts")
    present = [i for i in range(len(window.keys)) if attempts_w[i] > 0]
    keys = {i: window.key(i) for i in present}
    rules = {i: settings.for_fleet(keys[i].get("fleet", fleet)) for i in present}

    tests: list[_Test] = []
    judged: set[int] = set()
    for i in present:
        r = rules[i]
        if attempts_w[i] < r.min_attempts:
            continue
        w_side = _Side(window.aggs, i, window.local_requests[i] if escalation else None)
        if attempts_b[i] >= r.min_baseline_attempts:
            b_side = _Side(baseline.aggs, i, baseline.local_requests[i] if escalation else None)
            tests += run_tests(i, w_side, b_side, BASELINE, r, settings.exact_below)
            judged.add(i)
    if settings.canary and "model_version" in by:
        for i, j in _canary_pairs(window, baseline, present, rules):
            w_side = _Side(window.aggs, i, window.local_requests[i] if escalation else None)
            c_side = _Side(window.aggs, j, window.local_requests[j] if escalation else None)
            label = f"model_version {keys[j]['model_version']}"
            tests += run_tests(i, w_side, c_side, label, rules[i], settings.exact_below)
            judged.add(i)

    adjusted = benjamini_hochberg([t.significance.p_value for t in tests])
    findings: dict[int, list[Finding]] = {i: [] for i in present}
    attribution_dims = [d for d in SEGMENT_DIMENSIONS if d not in by]
    can_attribute = (
        groups is not None
        and segments is not None
        and window_by_segment is not None
        and baseline_by_segment is not None
    )
    for test, p_adj in zip(tests, adjusted, strict=True):
        finding = to_finding(test, float(p_adj), settings.fdr, rules[test.segment])
        if finding is None:
            continue
        if can_attribute and finding.direction == "worse" and test.reference == BASELINE:
            assert groups is not None and segments is not None
            assert window_by_segment is not None and baseline_by_segment is not None
            ids = groups.code.index[groups.code.to_numpy() == test.segment].to_numpy()
            attribution = explain_change(
                test.metric,
                window=reindex(window_by_segment, ids),
                baseline=reindex(baseline_by_segment, ids),
                segments=segments,
                dimensions=attribution_dims,
                worse=WORSE[test.family],
                share=settings.attribution_share,
                max_segments=settings.attribution_max_segments,
                max_depth=settings.attribution_max_depth,
            )
            finding = dataclasses.replace(finding, attribution=attribution)
        findings[test.segment].append(finding)

    out = []
    violations_w, violations_b = window.privacy_violations, baseline.privacy_violations
    for i in present:
        found = findings[i]
        if violations_w[i] > 0:
            found.insert(0, _privacy_finding(keys[i], violations_w[i], violations_b[i]))
        found.sort(key=lambda f: (-SEVERITIES.index(f.severity), f.p_adjusted or 0.0))
        out.append(
            SegmentHealth(
                key=keys[i],
                status=_status(found, judged=i in judged),
                metrics=metric_dict(window_metrics.iloc[i]),
                findings=found,
                baseline_metrics=metric_dict(baseline_metrics.iloc[i]),
            )
        )
    out.sort(key=_order)
    return Verdicts(out, len(tests))


_ORDER = {"degraded": 0, "warn": 1, "insufficient_data": 2, "ok": 3}


def _order(health: SegmentHealth) -> tuple[Any, ...]:
    return (_ORDER[health.status], tuple(health.key.values()))


def _status(findings: Sequence[Finding], *, judged: bool) -> str:
    """Degraded or warn by the worst finding; ok when judged without one; else insufficient_data."""
    severities = {f.severity for f in findings}
    if "degraded" in severities:
        return "degraded"
    if not judged:
        return "insufficient_data"
    if "warn" in severities:
        return "warn"
    return "ok"


def _canary_pairs(
    window: Segmented, baseline: Segmented, present: list[int], rules: dict[int, Rules]
) -> list[tuple[int, int]]:
    """(segment, segment of the previous dominant version) pairs for the canary comparison.

    Segments that differ only in ``model_version`` are siblings; the previous
    dominant version is the sibling with the most baseline attempts (window
    attempts when none has a baseline). Every other sibling with enough window
    attempts is compared with it, when it has enough too.
    """
    others = [d for d in window.by if d != "model_version"]
    frame = window.keys.iloc[present].copy()
    frame["_i"] = present
    frame["_b"] = baseline.aggs.column("attempts")[present]
    frame["_w"] = window.aggs.column("attempts")[present]
    pairs = []
    grouped = frame.groupby(others, sort=False) if others else [((), frame)]
    for _, siblings in grouped:
        if len(siblings) < 2:
            continue
        order = siblings.sort_values(["_b", "_w"], ascending=False)
        dominant = int(order["_i"].iloc[0])
        if window.aggs.column("attempts")[dominant] < rules[dominant].min_attempts:
            continue
        for i in order["_i"].iloc[1:]:
            i = int(i)
            if window.aggs.column("attempts")[i] >= rules[i].min_attempts:
                pairs.append((i, dominant))
    return pairs
