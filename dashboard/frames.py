"""Analytics results reshaped for display: tier summaries, grid rows and chart frames.

Pure functions: reports, comparisons and drifts in, small dataclasses, records or
data frames out. Values keep their units (rates as fractions, latency in ms);
metrics are named and formatted by :mod:`analytics.vocabulary`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from analytics.advice import Advice
from analytics.findings import Finding
from analytics.health import HealthReport, SegmentHealth
from analytics.objectives import ObjectiveStatus
from analytics.requests import RequestGroup
from analytics.tiers import TierComparison
from analytics.version_order import version_key
from analytics.versions import VersionDrift
from analytics.vocabulary import LOCAL_TIERS, TIERS, format_p, format_value, label
from collector.schema import FALLBACK_REASONS
from dashboard import theme

#: The key figures of a tier card, in order.
KEY_FIGURES = (
    "attempts_per_hour",
    "error_rate",
    "fallback_rate",
    "latency_p95_ms",
    "quality_mean",
    "privacy_violations",
)
#: Metric columns of the segment grid, in order.
GRID_METRICS = (
    "attempts",
    "error_rate",
    "fallback_rate",
    "cloud_escalation_rate",
    "latency_p95_ms",
    "quality_mean",
    "privacy_violations",
)
#: Metrics a segment's chart can draw, in the order offered.
SERIES_METRICS = (
    "error_rate",
    "fallback_rate",
    "cloud_escalation_rate",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "confidence_mean",
    "quality_mean",
    "attempts",
)
#: Metrics compared between versions on the versions page.
CANARY_METRICS = ("error_rate", "fallback_rate", "latency_p95_ms", "quality_mean")
_REASONS = (*FALLBACK_REASONS, "other")
_WORSE = ("warn", "degraded")


@dataclass(frozen=True)
class KeyFigure:
    """One metric of a window against its baseline, formatted.

    ``flagged`` is the severity of the finding on this metric (``warn`` or
    ``degraded``), ``None`` when none.
    """

    metric: str
    label: str
    value: str
    baseline: str
    change: str
    flagged: str | None = None


@dataclass(frozen=True)
class TierSummary:
    """What a tier card shows: status, findings in words, key figures."""

    tier: str
    status: str
    attempts: int
    findings: list[tuple[str, str]]
    figures: list[KeyFigure]


def describe_key(key: Mapping[str, str]) -> str:
    """A segment key as operators read it: ``tier=device, device_model=galaxy-a14``."""
    return ", ".join(f"{dim}={value or '-'}" for dim, value in key.items()) or "all attempts"


def finding_text(finding: Finding) -> str:
    """A finding in words, with the sub-segments that explain it."""
    text = finding.explanation
    if finding.attribution:
        parts = [f"{describe_key(c.key)} ({c.share * 100:.0f}%)" for c in finding.attribution]
        text += "; explained by " + "; ".join(parts)
    return text


def relative_change(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline - 1``, or ``None`` when either is missing or the baseline is 0."""
    if value is None or baseline is None or baseline == 0:
        return None
    return value / baseline - 1


def format_change(change: float | None) -> str:
    """``+51%``, ``-3%``, ``±0%``; empty when unknown."""
    if change is None:
        return ""
    pct = change * 100
    if round(pct) == 0:
        return "±0%"
    return f"{pct:+.0f}%"


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _number(value: float | int | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if np.isnan(number) else number


def key_figures(segment: SegmentHealth, report: HealthReport) -> list[KeyFigure]:
    """The key figures of one segment: window against baseline.

    Attempts are per hour, so a 1h window compares with a 24h baseline; privacy
    violations are counts in each period.
    """
    flagged: dict[str, str] = {}
    for finding in segment.findings:
        if finding.severity in _WORSE and finding.reference == "baseline":
            name = "latency_p95_ms" if finding.metric.startswith("latency_") else finding.metric
            if flagged.get(name) != "degraded":
                flagged[name] = finding.severity
    out = []
    window_h = _hours(report.window_start, report.window_end)
    baseline_h = report.baseline_seconds / 3600 or _hours(
        report.baseline_start, report.baseline_end
    )
    for metric in KEY_FIGURES:
        window_value: float | None
        baseline_value: float | None
        change: float | None
        if metric == "attempts_per_hour":
            window_value = float(segment.metrics.get("attempts") or 0) / window_h
            baseline_value = float(segment.baseline_metrics.get("attempts") or 0) / baseline_h
            change, flag = relative_change(window_value, baseline_value), None
        elif metric == "privacy_violations":
            # Any violation is degraded, and a count over periods of unequal length has no change.
            window_value = _number(segment.metrics.get(metric)) or 0.0
            baseline_value = _number(segment.baseline_metrics.get(metric)) or 0.0
            change, flag = None, "degraded" if window_value else None
        else:
            window_value = _number(segment.metrics.get(metric))
            baseline_value = _number(segment.baseline_metrics.get(metric))
            change, flag = relative_change(window_value, baseline_value), flagged.get(metric)
        out.append(
            KeyFigure(
                metric,
                label(metric),
                format_value(metric, window_value),
                format_value(metric, baseline_value),
                format_change(change),
                flag,
            )
        )
    return out


def tier_summaries(report: HealthReport, detail: HealthReport | None = None) -> list[TierSummary]:
    """One summary per tier (device, edge, cloud) of a report split by tier.

    Several segments of one tier (a report also split by fleet) are summarised by
    the worst. ``detail``, the same period split further (by tier and task), adds
    its segments' warnings and degradations with their findings, so that one
    task's degradation is not diluted by the tier's other tasks. A tier without
    attempts in the window has ``insufficient_data``.
    """
    if "tier" not in report.by:
        raise ValueError("tier summaries need a report split by tier")
    out = []
    for tier in TIERS:
        mine = [s for s in report.segments if s.key.get("tier") == tier]
        if not mine:
            out.append(TierSummary(tier, "insufficient_data", 0, [], []))
            continue
        attempts = sum(int(s.metrics.get("attempts") or 0) for s in mine)
        # A part holding all of the tier's attempts (its only task) would repeat the tier.
        parts = [
            s
            for s in (detail.segments if detail is not None else [])
            if s.key.get("tier") == tier
            and s.status in _WORSE
            and int(s.metrics.get("attempts") or 0) < attempts
        ]
        worst = min(mine, key=lambda s: theme.STATUS_ORDER.index(s.status))
        status = min([worst.status, *(s.status for s in parts)], key=theme.STATUS_ORDER.index)
        findings = [
            (f.severity, finding_text(f)) for s in mine for f in s.findings if f.severity in _WORSE
        ]
        for part in parts:
            where = describe_key({k: v for k, v in part.key.items() if k != "tier"})
            findings += [
                (f.severity, f"{where}: {finding_text(f)}")
                for f in part.findings
                if f.severity in _WORSE
            ]
        findings.sort(key=lambda pair: theme.STATUS_ORDER.index(pair[0]))
        out.append(TierSummary(tier, status, attempts, findings, key_figures(worst, report)))
    return out


def fleet_escalation(report: HealthReport) -> KeyFigure:
    """The fleet-wide cloud escalation rate of a report split by tier, window against baseline.

    Escalations are counted on the cloud attempts that served a request which
    started on a local tier; the rate divides them by the requests that started on
    a local tier, as analytics does for segments not split by tier. A report lists
    the tiers with attempts in the window, so the baseline covers those tiers.
    """
    if "tier" not in report.by:
        raise ValueError("the fleet-wide escalation rate needs a report split by tier")

    def rate(metrics: str) -> float | None:
        escalations = 0.0
        local = 0.0
        for segment in report.segments:
            values = getattr(segment, metrics)
            escalations += float(values.get("cloud_escalations") or 0)
            if segment.key.get("tier") in LOCAL_TIERS:
                local += float(values.get("requests") or 0)
        return escalations / local if local else None

    window, baseline = rate("metrics"), rate("baseline_metrics")
    return KeyFigure(
        "cloud_escalation_rate",
        label("cloud_escalation_rate"),
        format_value("cloud_escalation_rate", window),
        format_value("cloud_escalation_rate", baseline),
        format_change(relative_change(window, baseline)),
    )


def segment_id(key: Mapping[str, str]) -> str:
    """A stable row id for a segment key."""
    return "|".join(f"{dim}={value}" for dim, value in key.items()) or "all"


def segment_rows(report: HealthReport) -> list[dict[str, Any]]:
    """One grid row per segment of a report, worst first, with what its detail panel needs.

    Dimension columns are named after the dimensions (an empty value shows as
    ``-``); metric columns hold raw values; ``key``, ``baseline`` and
    ``findings`` feed the detail panel.
    """
    rows = []
    for segment in report.segments:
        style = theme.status_style(segment.status)
        worse = [f for f in segment.findings if f.severity in _WORSE]
        row: dict[str, Any] = {
            "id": segment_id(segment.key),
            "status": f"{style.icon} {style.label}",
            "status_rank": theme.STATUS_ORDER.index(segment.status),
            **{dim: value or "-" for dim, value in segment.key.items()},
        }
        for metric in GRID_METRICS:
            row[metric] = _number(segment.metrics.get(metric))
        row["attempts"] = int(segment.metrics.get("attempts") or 0)
        row["findings"] = len(worse)
        row["finding"] = worse[0].explanation if worse else ""
        row["key"] = dict(segment.key)
        row["baseline"] = {m: _number(segment.baseline_metrics.get(m)) for m in SERIES_METRICS}
        row["details"] = [
            {
                "severity": f.severity,
                "metric": f.metric,
                "text": finding_text(f),
                "reference": f.reference,
                "baseline_value": f.baseline_value,
            }
            for f in segment.findings
        ]
        rows.append(row)
    rows.sort(key=lambda r: r["status_rank"])
    return rows


def baseline_band(
    series: pd.DataFrame,
    metric: str,
    *,
    baseline_end: datetime,
    low: float = 0.1,
    high: float = 0.9,
) -> tuple[float, float] | None:
    """The range the metric usually kept in the baseline: its ``low``..``high`` quantiles.

    Taken over the baseline buckets (index before ``baseline_end``) that had
    attempts; ``None`` with fewer than three such buckets.
    """
    before = series[(series.index < baseline_end) & (series["attempts"] > 0)][metric].dropna()
    if len(before) < 3:
        return None
    return float(before.quantile(low)), float(before.quantile(high))


def _task_label(comparison: TierComparison, fleets: int) -> str:
    return comparison.task if fleets <= 1 else f"{comparison.fleet}/{comparison.task}"


def tier_latency_frame(comparisons: Sequence[TierComparison]) -> pd.DataFrame:
    """Latency percentiles per task and tier (the cloud once per task).

    Columns ``task``, ``tier``, ``attempts``, ``p50``, ``p95``, ``p99`` (ms).
    """
    fleets = len({c.fleet for c in comparisons})
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for c in comparisons:
        task = _task_label(c, fleets)
        for tier, metrics in ((c.tier, c.local), ("cloud", c.cloud)):
            rows[(task, tier)] = {
                "task": task,
                "tier": tier,
                "attempts": int(metrics.get("attempts") or 0),
                "p50": _number(metrics.get("latency_p50_ms")),
                "p95": _number(metrics.get("latency_p95_ms")),
                "p99": _number(metrics.get("latency_p99_ms")),
            }
    frame = pd.DataFrame(
        list(rows.values()), columns=["task", "tier", "attempts", "p50", "p95", "p99"]
    )
    return _by_task_and_tier(frame)


def _by_task_and_tier(frame: pd.DataFrame) -> pd.DataFrame:
    order = {tier: i for i, tier in enumerate(TIERS)}
    frame = frame.assign(_order=frame["tier"].map(order))
    return frame.sort_values(["task", "_order"]).drop(columns="_order").reset_index(drop=True)


def tier_quality_frame(comparisons: Sequence[TierComparison]) -> pd.DataFrame:
    """Quality per task and tier with its 95% interval.

    Columns ``task``, ``tier``, ``quality``, ``low``, ``high``, ``source``: a local
    tier's quality is the reported one, else its agreement with cloud shadows
    (``source`` ``shadow agreement``); tiers without either are left out.
    """
    fleets = len({c.fleet for c in comparisons})
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for c in comparisons:
        task = _task_label(c, fleets)
        if c.quality_source == "shadow_agreement" and c.shadow is not None:
            rows[(task, c.tier)] = {
                "task": task,
                "tier": c.tier,
                "quality": c.shadow.mean,
                "low": c.shadow.ci_low,
                "high": c.shadow.ci_high,
                "source": "shadow agreement",
            }
        elif _number(c.local.get("quality_mean")) is not None:
            rows[(task, c.tier)] = _quality_row(task, c.tier, c.local)
        if _number(c.cloud.get("quality_mean")) is not None:
            rows[(task, "cloud")] = _quality_row(task, "cloud", c.cloud)
    frame = pd.DataFrame(
        list(rows.values()), columns=["task", "tier", "quality", "low", "high", "source"]
    )
    return _by_task_and_tier(frame)


def _quality_row(task: str, tier: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "task": task,
        "tier": tier,
        "quality": _number(metrics.get("quality_mean")),
        "low": _number(metrics.get("quality_ci_low")),
        "high": _number(metrics.get("quality_ci_high")),
        "source": "reported",
    }


def tier_differences_frame(comparisons: Sequence[TierComparison]) -> pd.DataFrame:
    """Each local tier against the cloud per task and metric, formatted for a table.

    Columns ``task``, ``tier``, ``metric``, ``local``, ``cloud``, ``difference``
    (local minus cloud, with its 95% interval) and ``p`` (the p-value).
    """
    fleets = len({c.fleet for c in comparisons})
    rows = []
    for c in comparisons:
        for d in c.differences:
            if d.difference is None:
                continue
            interval = ""
            if d.ci_low is not None and d.ci_high is not None:
                interval = f" [{_signed(d.metric, d.ci_low)}, {_signed(d.metric, d.ci_high)}]"
            rows.append(
                {
                    "task": _task_label(c, fleets),
                    "tier": c.tier,
                    "metric": label(d.metric),
                    "local": format_value(d.metric, d.local_value),
                    "cloud": format_value(d.metric, d.cloud_value),
                    "difference": _signed(d.metric, d.difference) + interval,
                    "p": "" if d.p_value is None else format_p(d.p_value),
                }
            )
    return pd.DataFrame(
        rows, columns=["task", "tier", "metric", "local", "cloud", "difference", "p"]
    )


def _signed(metric: str, value: float) -> str:
    text = format_value(metric, abs(value))
    return ("-" if value < 0 else "+") + text


def fallback_reasons_frame(series: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Fallback rate per reason over time, per tier, in long form.

    ``series`` maps a tier to its :func:`~analytics.timeseries.segment_series`
    frame. Columns ``start``, ``tier``, ``reason``, ``rate``; reasons that never
    occur in a tier are left out.
    """
    parts = []
    for tier, frame in series.items():
        for reason in _REASONS:
            column = frame[f"fallback_rate_{reason}"]
            if not (column.fillna(0) > 0).any():
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "start": frame.index,
                        "tier": tier,
                        "reason": reason,
                        "rate": column.to_numpy(dtype=float),
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=["start", "tier", "reason", "rate"])
    return pd.concat(parts, ignore_index=True)


def escalation_frame(series: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Cloud escalation rate over time per task, in long form: ``start``, ``task``, ``rate``."""
    parts = [
        pd.DataFrame(
            {
                "start": frame.index,
                "task": task,
                "rate": frame["cloud_escalation_rate"].to_numpy(dtype=float),
            }
        )
        for task, frame in series.items()
    ]
    if not parts:
        return pd.DataFrame(columns=["start", "task", "rate"])
    return pd.concat(parts, ignore_index=True)


def version_share_frame(drift: VersionDrift) -> pd.DataFrame:
    """The versions of one model, newest first.

    Columns ``version``, ``devices``, ``share`` (of active devices), ``attempts``
    (in the window), ``first_seen`` (ISO text) and ``role`` (``newest``,
    ``previous dominant``, both, or empty).
    """
    rows = []
    for share in drift.versions:
        roles = []
        if share.version == drift.newest_version:
            roles.append("newest")
        if share.version == drift.dominant_version:
            roles.append("previous dominant")
        rows.append(
            {
                "version": share.version,
                "devices": share.devices,
                "share": share.share,
                "attempts": share.attempts,
                "first_seen": _iso(share.first_seen),
                "role": ", ".join(roles),
            }
        )
    return pd.DataFrame(
        rows, columns=["version", "devices", "share", "attempts", "first_seen", "role"]
    )


def canary_frame(drift: VersionDrift) -> pd.DataFrame:
    """Every version against the previous dominant one, per metric, in long form.

    Columns ``version``, ``reference``, ``status``, ``metric``, ``label``,
    ``value`` and ``reference_value``; versions newest first.
    """
    rows = []
    canaries = sorted(drift.canaries, key=lambda c: version_key(c.version), reverse=True)
    for canary in canaries:
        for metric in CANARY_METRICS:
            rows.append(
                {
                    "version": canary.version,
                    "reference": canary.reference_version,
                    "status": canary.status,
                    "metric": metric,
                    "label": label(metric),
                    "value": _number(canary.metrics.get(metric)),
                    "reference_value": _number(canary.reference_metrics.get(metric)),
                }
            )
    return pd.DataFrame(
        rows,
        columns=["version", "reference", "status", "metric", "label", "value", "reference_value"],
    )


def stuck_frame(drift: VersionDrift) -> pd.DataFrame:
    """The stuck devices listed for one model, longest stuck first."""
    rows = [
        {
            "device_id": s.device_id,
            "device_model": s.device_model,
            "app_version": s.app_version,
            "model_version": s.model_version,
            "version_since": _iso(s.version_since),
            "last_seen": _iso(s.last_seen),
        }
        for s in drift.stuck
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "device_id",
            "device_model",
            "app_version",
            "model_version",
            "version_since",
            "last_seen",
        ],
    )


def _iso(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def display_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame as JSON-ready records for a grid: times as text, mappings as ``k=v``.

    Integer columns whose name ends in ``_at`` are read as Unix seconds.
    """
    records = []
    for row in frame.to_dict("records"):
        out: dict[str, Any] = {}
        for name, value in row.items():
            out[str(name)] = _display(str(name), value)
        records.append(out)
    return records


def _display(name: str, value: Any) -> Any:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, datetime):
        return _iso(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, pd.Timestamp):
        return _iso(value.to_pydatetime())
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, (int, np.integer)) and name.endswith("_at"):
        return _iso(datetime.fromtimestamp(int(value), tz=UTC))
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        if name.endswith("_at"):
            return _iso(datetime.fromtimestamp(float(value), tz=UTC))
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def advice_frame(advice: Advice) -> pd.DataFrame:
    """The what-if curve, one row per threshold: quality with its interval against the cost.

    ``cost`` is the cost per 1,000 requests where the price list prices the
    tiers, else the cloud escalation rate (what drives the cost).
    """
    rows = [
        {
            "threshold": p.threshold,
            "quality": p.quality,
            "quality_low": p.quality_low,
            "quality_high": p.quality_high,
            "cost": p.cost_per_1k if advice.priced else p.cloud_escalation_rate,
            "local_share": p.local_share,
            "coverage": p.coverage,
        }
        for p in advice.curve
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "threshold",
            "quality",
            "quality_low",
            "quality_high",
            "cost",
            "local_share",
            "coverage",
        ],
    )


def objectives_frame(statuses: Sequence[ObjectiveStatus]) -> pd.DataFrame:
    """One text row per objective kind: target, SLI, budget left, burn rates, alert."""

    def percent(value: float | None, digits: int) -> str:
        return "-" if value is None else f"{value * 100:.{digits}f}%"

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = []
    for s in statuses:
        quality = s.kind == "quality"
        kind = s.kind if s.threshold_ms is None else f"latency <= {s.threshold_ms:g} ms"
        sli = ("-" if s.sli is None else f"{s.sli:.3f}") if quality else percent(s.sli, 2)
        rows.append(
            {
                "status": s.status,
                "objective": s.name,
                "task": s.task,
                "fleet": s.fleet or "(every)",
                "kind": kind,
                "target": f"{s.target:g}" if quality else percent(s.target, 2),
                "period": s.period,
                "sli": sli,
                "budget_remaining": percent(s.budget_remaining, 1),
                **{f"burn_{w}": rate(s.burn_rates.get(w)) for w in ("5m", "1h", "6h", "3d")},
                "alert": s.alert or "-",
            }
        )
    return pd.DataFrame(rows)


def requests_frame(groups: Sequence[RequestGroup]) -> pd.DataFrame:
    """One text row per task and first tier: requests, where they were answered, end to end."""

    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.1f}%"

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    rows = [
        {
            "task": g.key["task"],
            "tier": g.key["tier"],
            "requests": f"{g.requests:,}",
            "answered_share": percent(g.answered_share),
            "served": " / ".join(
                percent(v)
                for v in (g.served_device_share, g.served_edge_share, g.served_cloud_share)
            ),
            "cloud_escalation_rate": percent(g.cloud_escalation_rate),
            "tiers_per_request": "-"
            if g.tiers_per_request is None
            else f"{g.tiers_per_request:.2f}",
            "latency_p50_ms": ms(g.latency_p50_ms),
            "latency_p95_ms": ms(g.latency_p95_ms),
            "quality_mean": "-" if g.quality_mean is None else f"{g.quality_mean:.3f}",
        }
        for g in groups
    ]
    return pd.DataFrame(rows, columns=list(REQUEST_HEADERS))


#: Column headers of :func:`requests_frame`.
REQUEST_HEADERS = {
    "task": "task",
    "tier": "first tier",
    "requests": "requests",
    "answered_share": "answered",
    "served": "served by device / edge / cloud",
    "cloud_escalation_rate": "cloud escalation",
    "tiers_per_request": "tiers per request",
    "latency_p50_ms": "end-to-end p50",
    "latency_p95_ms": "end-to-end p95",
    "quality_mean": "quality served",
}


def request_latency_frame(groups: Sequence[RequestGroup]) -> pd.DataFrame:
    """End-to-end p50, p95 and p99 per task and first tier, for :func:`figures.latency_figure`."""
    return pd.DataFrame(
        [
            {
                "task": g.key["task"],
                "tier": g.key["tier"],
                "p50": g.latency_p50_ms,
                "p95": g.latency_p95_ms,
                "p99": g.latency_p99_ms,
            }
            for g in groups
        ],
        columns=["task", "tier", "p50", "p95", "p99"],
    )
