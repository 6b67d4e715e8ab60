"""Segment metrics from added-up rollups: rates, latency percentiles, means with intervals.

Pure functions. :func:`segment_by` groups per-segment-id aggregates into the
segments of chosen dimensions; :func:`compute_metrics` turns any aggregates
(segments or time buckets) into one row of metrics each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics import aggregates
from analytics.aggregates import Aggregates
from analytics.histograms import LATENCY_VALUES, quantiles
from analytics.vocabulary import LOCAL_TIERS
from collector.schema import FALLBACK_REASONS, SEGMENT_DIMENSIONS

_REASONS = (*FALLBACK_REASONS, "other")

#: Every metric :func:`compute_metrics` returns, in column order.
METRICS = (
    "attempts",
    "requests",
    "errors",
    "error_rate",
    "fallbacks",
    "fallback_rate",
    *(f"fallback_rate_{reason}" for reason in _REASONS),
    "cloud_escalations",
    "cloud_escalation_rate",
    "latency_mean_ms",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "confidence_count",
    "confidence_mean",
    "confidence_ci_low",
    "confidence_ci_high",
    "quality_count",
    "quality_mean",
    "quality_ci_low",
    "quality_ci_high",
    "sensitive",
    "privacy_violations",
    "energy_mj_mean",
    "thermal_share",
    "offline_share",
    "input_tokens",
    "output_tokens",
)
#: Metrics that are counts (integers in JSON).
COUNT_METRICS = frozenset(
    {
        "attempts",
        "requests",
        "errors",
        "fallbacks",
        "cloud_escalations",
        "confidence_count",
        "quality_count",
        "sensitive",
        "privacy_violations",
        "input_tokens",
        "output_tokens",
    }
)

#: fleet -> tiers allowed for sensitive data (the privacy policy), as a callable.
AllowedTiers = Callable[[str], frozenset[str]]


@dataclass(frozen=True)
class Segmented:
    """Aggregates grouped into segments of the dimensions ``by``.

    ``keys`` has one row per segment (columns ``by``), aligned with ``aggs`` rows;
    ``local_requests`` counts requests that started on a local tier and
    ``privacy_violations`` violations under the policy in force, per segment.
    """

    by: tuple[str, ...]
    keys: pd.DataFrame
    aggs: Aggregates
    local_requests: np.ndarray
    privacy_violations: np.ndarray

    def key(self, i: int) -> dict[str, str]:
        """The dimension values of segment ``i``."""
        return {d: str(self.keys.iat[i, j]) for j, d in enumerate(self.by)}


@dataclass(frozen=True)
class Grouping:
    """How segment ids map to the segments of dimensions ``by``."""

    by: tuple[str, ...]
    keys: pd.DataFrame
    #: segment id -> segment (row of ``keys``)
    code: pd.Series


def grouping(segments: pd.DataFrame, by: Sequence[str]) -> Grouping:
    """Group the store's segments (index id, a column per dimension) by ``by``."""
    dims = tuple(by)
    unknown = [d for d in dims if d not in SEGMENT_DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension {unknown[0]!r}")
    if not dims:
        keys = pd.DataFrame(index=range(1 if len(segments) else 0))
        return Grouping(dims, keys, pd.Series(0, index=segments.index, dtype=np.int64))
    codes = segments.groupby(list(dims), sort=True).ngroup()
    keys = segments[list(dims)].assign(_code=codes).drop_duplicates("_code")
    keys = keys.sort_values("_code").drop(columns="_code").reset_index(drop=True)
    return Grouping(dims, keys, codes.astype(np.int64))


def segment_by(
    per_segment: Aggregates,
    segments: pd.DataFrame,
    groups: Grouping,
    *,
    allowed_tiers: AllowedTiers | None = None,
) -> Segmented:
    """Per-segment-id aggregates added into the segments of ``groups``.

    With ``allowed_tiers`` (the fleet privacy policy) privacy violations are
    recounted from the sensitive attempts under that policy, so a policy change
    applies to history too; without it the counts stored at ingest are used.
    """
    ids = per_segment.labels
    info = segments.reindex(ids)
    codes = groups.code.reindex(ids).fillna(-1).to_numpy(dtype=np.int64)
    labels = np.arange(len(groups.keys))
    grouped = aggregates.group(per_segment, codes, labels)
    local = info["tier"].isin(LOCAL_TIERS).to_numpy()
    requests = per_segment.column("requests")
    local_requests = np.zeros(len(labels))
    np.add.at(local_requests, codes[codes >= 0], (requests * local)[codes >= 0])
    if allowed_tiers is None:
        per_id = per_segment.column("privacy_violations")
    else:
        forbidden = np.array(
            [
                tier not in allowed_tiers(fleet)
                for fleet, tier in zip(info["fleet"], info["tier"], strict=True)
            ],
            dtype=bool,
        )
        per_id = per_segment.column("sensitive") * forbidden
    violations = np.zeros(len(labels))
    np.add.at(violations, codes[codes >= 0], per_id[codes >= 0])
    return Segmented(groups.by, groups.keys, grouped, local_requests, violations)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _mean_ci(
    count: np.ndarray, total: np.ndarray, sq: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = _ratio(total, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum((sq - total * total / np.where(count > 0, count, 1)) / (count - 1), 0.0)
        half = stats.t.ppf(0.5 + level / 2, np.maximum(count - 1, 1)) * np.sqrt(var / count)
    half = np.where(count >= 2, half, np.nan)
    return mean, mean - half, mean + half


def compute_metrics(
    aggs: Aggregates,
    *,
    local_requests: np.ndarray | None = None,
    privacy_violations: np.ndarray | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row of :data:`METRICS` per row of ``aggs`` (index: its labels).

    Rates are fractions of attempts; the cloud escalation rate is escalations per
    request that started on a local tier, given only when ``local_requests`` is
    (a segment split by tier cannot see both ends of a request). Percentiles come
    from the merged latency histograms; means carry ``level`` confidence intervals.
    """
    col = aggs.column
    attempts = col("attempts")
    out: dict[str, np.ndarray] = {
        "attempts": attempts,
        "requests": col("requests"),
        "errors": col("errors"),
        "error_rate": _ratio(col("errors"), attempts),
        "fallbacks": col("fallbacks"),
        "fallback_rate": _ratio(col("fallbacks"), attempts),
    }
    for reason in _REASONS:
        out[f"fallback_rate_{reason}"] = _ratio(col(f"fallback_{reason}"), attempts)
    out["cloud_escalations"] = col("cloud_escalations")
    out["cloud_escalation_rate"] = (
        _ratio(col("cloud_escalations"), local_requests)
        if local_requests is not None
        else np.full(len(aggs), np.nan)
    )
    out["latency_mean_ms"] = _ratio(col("latency_ms_sum"), attempts)
    pct = quantiles(aggs.latency, (0.5, 0.95, 0.99), LATENCY_VALUES)
    out["latency_p50_ms"], out["latency_p95_ms"], out["latency_p99_ms"] = pct.T
    for name in ("confidence", "quality"):
        count = col(f"{name}_count")
        mean, low, high = _mean_ci(count, col(f"{name}_sum"), col(f"{name}_sq_sum"), level)
        out[f"{name}_count"] = count
        out[f"{name}_mean"], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = mean, low, high
    out["sensitive"] = col("sensitive")
    out["privacy_violations"] = (
        privacy_violations if privacy_violations is not None else col("privacy_violations")
    )
    out["energy_mj_mean"] = _ratio(col("energy_mj_sum"), col("energy_count"))
    out["thermal_share"] = _ratio(col("thermal_throttled"), attempts)
    out["offline_share"] = _ratio(col("offline"), attempts)
    out["input_tokens"] = col("input_tokens_sum")
    out["output_tokens"] = col("output_tokens_sum")
    frame = pd.DataFrame(out, index=aggs.labels)
    for name in COUNT_METRICS:
        frame[name] = frame[name].round().astype(np.int64)
    return frame[list(METRICS)]


def segment_metrics(segmented: Segmented) -> pd.DataFrame:
    """:func:`compute_metrics` of grouped segments, with the escalation rate where defined."""
    return compute_metrics(
        segmented.aggs,
        local_requests=None if "tier" in segmented.by else segmented.local_requests,
        privacy_violations=segmented.privacy_violations,
    )


def metric_dict(row: pd.Series) -> dict[str, float | int | None]:
    """A metrics row as JSON-ready values: counts as int, NaN as None."""
    out: dict[str, float | int | None] = {}
    for name, value in row.items():
        if name in COUNT_METRICS:
            out[str(name)] = int(value)
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            out[str(name)] = None
        else:
            out[str(name)] = float(value)
    return out
