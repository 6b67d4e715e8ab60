"""Estimates of the tested metrics from aggregates: a value and its sampling variance per row.

Pure and vectorised: one call estimates one metric for every row of an
:class:`~analytics.aggregates.Aggregates` (every segment of a period). Each
:class:`Estimate` carries the value people read, the value on the scale the
tests work on (the log of a latency percentile, so that a change is relative;
the value itself otherwise), that scale's sampling variance and how many
observations the value rests on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from analytics.aggregates import Aggregates
from analytics.histograms import LATENCY_VALUES, quantiles
from collector import buckets

#: Tested metrics and what they are estimated from.
RATES = {
    "error_rate": ("errors", "attempts"),
    "fallback_rate": ("fallbacks", "attempts"),
    "thermal_share": ("thermal_throttled", "attempts"),
    "cloud_escalation_rate": ("cloud_escalations", None),
}
MEANS = {
    "confidence_mean": "confidence",
    "quality_mean": "quality",
    "energy_mj_mean": "energy_mj",
}
PERCENTILES = {"latency_p50_ms": 0.50, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
TESTED = (*RATES, *PERCENTILES, *MEANS)
#: Sampling variance floor of a log percentile: a histogram bucket is this wide.
_BUCKET_VARIANCE = float(np.log(buckets.GAMMA)) ** 2 / 12
#: The normal quantile of a 95% interval, in the Hall-Sheather bandwidth.
_Z_HS = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Estimate:
    """One metric of every row: the value, its test scale, that scale's variance, its count.

    ``count`` is the number of observations behind the value (attempts for a rate
    or percentile, values for a mean); rows without any have NaN values.
    """

    value: np.ndarray
    scale: np.ndarray
    variance: np.ndarray
    count: np.ndarray


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def rate(events: np.ndarray, trials: np.ndarray) -> Estimate:
    """A proportion with a binomial variance that is never zero (half an event added)."""
    value = _ratio(events, trials)
    smoothed = (events + 0.5) / (trials + 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        variance = np.where(trials > 0, smoothed * (1 - smoothed) / np.maximum(trials, 1), np.nan)
    return Estimate(value, value, variance, trials.astype(float))


def mean(count: np.ndarray, total: np.ndarray, sq_total: np.ndarray) -> Estimate:
    """A mean from count, sum and sum of squares, with the variance of the mean."""
    value = _ratio(total, count)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum((sq_total - total * value) / np.maximum(count - 1, 1), 0.0)
        variance = np.where(count >= 2, var / np.maximum(count, 1), np.nan)
    return Estimate(value, value, variance, count.astype(float))


def percentile(histograms: np.ndarray, q: float) -> Estimate:
    """A latency percentile, tested on the log scale.

    The variance is that of a sample quantile, ``q (1 - q) / n`` times the
    squared sparsity (how fast the log latency climbs with the rank), floored at
    the resolution of the histogram's buckets. The sparsity is read between the
    order statistics a Hall-Sheather bandwidth either side of ``q``: wide enough
    that a few hundred attempts clumped around the median do not pass for a
    precise one, narrowing as attempts grow.
    """
    n = histograms.sum(axis=1).astype(float)
    h = _bandwidth(q, np.maximum(n, 1))
    low, high = np.clip(q - h, 0, 1), np.clip(q + h, 0, 1)
    value = quantiles(histograms, (q,), LATENCY_VALUES)[:, 0]
    if len(n):
        lo = _quantile_rows(histograms, low)
        hi = _quantile_rows(histograms, high)
    else:
        lo = hi = np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.log(value)
        sparsity = (np.log(hi) - np.log(lo)) / np.maximum(high - low, 1e-12)
        sampling = sparsity * sparsity * q * (1 - q) / np.maximum(n, 1)
        variance = np.where(n > 0, sampling + _BUCKET_VARIANCE, np.nan)
    return Estimate(value, scale, variance, n)


def _bandwidth(q: float, n: np.ndarray) -> np.ndarray:
    """Hall and Sheather's (1988) bandwidth for the sparsity at ``q`` from ``n`` values."""
    x = float(stats.norm.ppf(q))
    shape = 1.5 * float(stats.norm.pdf(x)) ** 2 / (2 * x * x + 1)
    return np.asarray(n ** (-1 / 3) * _Z_HS ** (2 / 3) * shape ** (1 / 3))


def _quantile_rows(histograms: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Each row's own quantile ``qs[i]`` (the rule of :func:`analytics.histograms.quantiles`)."""
    totals = histograms.sum(axis=1)
    running = np.cumsum(histograms, axis=1)
    rank = qs * np.maximum(totals - 1, 0)
    column = np.argmax(running > rank[:, None], axis=1)
    return np.where(totals > 0, LATENCY_VALUES[column], np.nan)


def estimate(metric: str, aggs: Aggregates, *, local_requests: np.ndarray | None) -> Estimate:
    """``metric`` for every row of ``aggs``.

    The cloud escalation rate divides escalations by ``local_requests`` (requests
    that started on a local tier); without them it is undefined (NaN).
    """
    if metric in RATES:
        events, trials = RATES[metric]
        if trials is None:
            den = local_requests if local_requests is not None else np.zeros(len(aggs))
            return rate(aggs.column(events), np.asarray(den, dtype=float))
        return rate(aggs.column(events), aggs.column(trials))
    if metric in PERCENTILES:
        return percentile(aggs.latency, PERCENTILES[metric])
    if metric in MEANS:
        name = MEANS[metric]
        if name == "energy_mj":
            return mean(
                aggs.column("energy_count"),
                aggs.column("energy_mj_sum"),
                aggs.column("energy_mj_sq_sum"),
            )
        return mean(
            aggs.column(f"{name}_count"), aggs.column(f"{name}_sum"), aggs.column(f"{name}_sq_sum")
        )
    raise KeyError(f"{metric!r} is not a tested metric")
