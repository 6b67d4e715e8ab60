"""Tests of a window against its baseline, vectorised over segments: pure, scipy underneath.

Three comparisons, each from :class:`~analytics.estimates.Estimate` arrays to a
:class:`Comparison` per segment:

- :func:`against_period`: the window against one period (the one before it, or a
  pinned reference) by a two-sample test: two proportions (Pearson's chi-square,
  Fisher's exact test for small counts), Welch's t for means, a z-test on the log
  of a percentile.
- :func:`against_days`: the window against the same hours of earlier days. The
  days' values spread more than sampling alone explains (traffic, load and users
  differ from day to day); that extra spread ``tau**2`` is estimated from the days
  (the DerSimonian-Laird moment estimator) and counted as noise, and the window
  is judged by how far it falls outside the prediction interval of a new day.
- :func:`against_reference`: drift: the window against a long-ago reference,
  where both sides carry the day-to-day spread that remains once the days' own
  trend is taken out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analytics.estimates import Estimate
from analytics.significance import two_proportion_test


@dataclass(frozen=True)
class Comparison:
    """The outcome per segment: what was expected, the p-value and the test's name.

    ``expected`` is the baseline's value on the scale people read (NaN where the
    segment could not be compared, with ``p_value`` 1 there); ``spread`` is the
    estimated day-to-day standard deviation on the test scale (0 without days).
    """

    expected: np.ndarray
    p_value: np.ndarray
    method: str
    spread: np.ndarray


def _normal_p(z: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(z), 2 * stats.norm.sf(np.abs(z)), 1.0)


def against_period(
    metric_kind: str,
    window: Estimate,
    base: Estimate,
    *,
    events: tuple[np.ndarray, np.ndarray] | None = None,
    exact_below: float = 5.0,
) -> Comparison:
    """The window against one baseline period, segment by segment.

    ``metric_kind`` is ``rate``, ``mean`` or ``percentile``. Rates need
    ``events`` (the event counts of window and baseline; the trials are the
    estimates' counts) for the chi-square or Fisher test.
    """
    expected = base.value.copy()
    n = len(expected)
    usable = (window.count > 0) & (base.count > 0) & np.isfinite(window.scale)
    usable &= np.isfinite(base.scale)
    p = np.ones(n)
    if metric_kind == "rate":
        assert events is not None
        x1, x2 = events
        for i in np.nonzero(usable)[0]:
            result = two_proportion_test(
                int(x1[i]),
                int(window.count[i]),
                int(x2[i]),
                int(base.count[i]),
                exact_below=exact_below,
            )
            p[i] = result.p_value
        return Comparison(expected, p, "two_proportion", np.zeros(n))
    se2 = window.variance + base.variance
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (window.scale - base.scale) / np.sqrt(se2)
    if metric_kind == "mean":
        v1, v2 = window.variance, base.variance
        with np.errstate(invalid="ignore", divide="ignore"):
            dof = se2**2 / (
                v1**2 / np.maximum(window.count - 1, 1) + v2**2 / np.maximum(base.count - 1, 1)
            )
        dof = np.where(np.isfinite(dof) & (dof > 0), dof, 1.0)
        with np.errstate(invalid="ignore"):
            p_t = np.where(np.isfinite(t), 2 * stats.t.sf(np.abs(t), dof), 1.0)
        # Equal constant values on both sides have no spread: nothing moved.
        p_t = np.where((se2 == 0) & (window.scale == base.scale), 1.0, p_t)
        p = np.where(usable, p_t, 1.0)
        return Comparison(expected, p, "welch_t", np.zeros(n))
    p = np.where(usable, _normal_p(t), 1.0)
    return Comparison(expected, p, "percentile_z", np.zeros(n))


@dataclass(frozen=True)
class DaySpread:
    """What the same hours of earlier days say about one metric, per segment.

    ``mean`` is the random-effects mean on the test scale, ``mean_variance`` its
    variance, ``tau2`` the day-to-day variance beyond sampling, ``days`` how many
    days were usable, ``trend_tau2`` the day-to-day variance left once a
    linear trend over the days is removed, and ``dispersion`` how many times
    their sampling variance the days' values spread (at least 1).
    """

    mean: np.ndarray
    mean_variance: np.ndarray
    tau2: np.ndarray
    days: np.ndarray
    trend_tau2: np.ndarray
    dispersion: np.ndarray


def day_spread(days: Sequence[Estimate], usable: np.ndarray) -> DaySpread:
    """Pool the days (``usable``: a days x segments mask of days to count) per segment."""
    x = np.stack([d.scale for d in days])
    v = np.stack([d.variance for d in days])
    ok = usable & np.isfinite(x) & np.isfinite(v) & (v > 0)
    x = np.where(ok, x, 0.0)
    w = np.where(ok, 1.0 / np.where(ok, v, 1.0), 0.0)
    k = ok.sum(axis=0).astype(float)
    sw = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xw = (w * x).sum(axis=0) / sw
        q = (w * (x - xw) ** 2).sum(axis=0)
        c = sw - (w * w).sum(axis=0) / sw
        tau2 = np.maximum((q - (k - 1)) / c, 0.0)
        tau2 = np.where(k >= 2, tau2, np.nan)
        dispersion = np.where(k >= 2, np.maximum(q / np.maximum(k - 1, 1), 1.0), np.nan)
        wr = np.where(ok, 1.0 / (np.where(ok, v, 1.0) + tau2), 0.0)
        mean = (wr * x).sum(axis=0) / wr.sum(axis=0)
        mean_variance = 1.0 / wr.sum(axis=0)
    trend_tau2 = _trend_tau2(x, w, ok, k)
    return DaySpread(mean, mean_variance, tau2, k, trend_tau2, dispersion)


def _trend_tau2(x: np.ndarray, w: np.ndarray, ok: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Day-to-day variance around a weighted linear trend over the days (moment estimator)."""
    t = np.arange(1, x.shape[0] + 1, dtype=float)[:, None] * ok
    sw, st, stt = w.sum(0), (w * t).sum(0), (w * t * t).sum(0)
    sx, stx = (w * x).sum(0), (w * t * x).sum(0)
    w2 = w * w
    s2w, s2t, s2tt = w2.sum(0), (w2 * t).sum(0), (w2 * t * t).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        det = sw * stt - st * st
        slope = (sw * stx - st * sx) / det
        intercept = (sx - slope * st) / sw
        q = (w * (x - intercept - slope * t) ** 2 * ok).sum(0)
        trace = (stt * s2w - 2 * st * s2t + sw * s2tt) / det
        tau2 = np.maximum((q - (k - 2)) / (sw - trace), 0.0)
    return np.where((k >= 3) & np.isfinite(tau2), tau2, np.nan)


def against_days(window: Estimate, spread: DaySpread, *, min_days: int, logged: bool) -> Comparison:
    """The window against the same hours of earlier days, with their spread counted as noise.

    The statistic is the window's distance from the days' mean over the standard
    deviation of a new day's value (sampling of the window, the day-to-day spread
    and the uncertainty of the mean); its p-value comes from Student's t with one
    degree of freedom fewer than the days, so few days make a cautious test.
    """
    enough = (spread.days >= min_days) & (window.count > 0) & np.isfinite(window.scale)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        expected = np.exp(spread.mean) if logged else spread.mean.copy()
        # Two readings of the same spread: periods that differ by more than their own
        # sampling (added), or attempts that come in bursts from a few devices, which
        # widens every period's sampling by the same factor (multiplied); the window's
        # own sampling variance tells how wide a burst leaves it, so take the wider.
        added = window.variance + spread.tau2
        sd = np.sqrt(np.maximum(added, window.variance * spread.dispersion) + spread.mean_variance)
        t = (window.scale - spread.mean) / sd
        p = np.where(
            enough & np.isfinite(t), 2 * stats.t.sf(np.abs(t), np.maximum(spread.days - 1, 1)), 1.0
        )
    return Comparison(expected, p, "seasonal_t", np.sqrt(np.nan_to_num(spread.tau2)))


def against_reference(
    window: Estimate, reference: Estimate, spread: DaySpread, *, reference_days: int
) -> Comparison:
    """Drift: the window against a long-ago reference of ``reference_days`` pooled days.

    Both the window and the reference are days of their own, so each carries the
    day-to-day spread left around the days' trend (the trend itself is what a
    drift is, so it must not count as noise).
    """
    tau2 = np.nan_to_num(spread.trend_tau2)
    usable = (window.count > 0) & (reference.count > 0) & np.isfinite(spread.trend_tau2)
    usable &= np.isfinite(window.scale) & np.isfinite(reference.scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(window.variance + reference.variance + tau2 * (1 + 1 / reference_days))
        t = (window.scale - reference.scale) / sd
        dof = np.maximum(spread.days - 2, 1)
        p = np.where(usable & np.isfinite(t), 2 * stats.t.sf(np.abs(t), dof), 1.0)
    return Comparison(reference.value.copy(), p, "drift_t", np.sqrt(tau2))
