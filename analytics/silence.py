"""Silence: traffic far below its usual level for this time, judged from attempt counts.

Pure and vectorised over segments. A node or hardware class that stops sending
is itself a failure operators must hear of; a segment that was always small is
``insufficient_data`` instead, because it never had a usual level to fall from.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from analytics.comparisons import day_spread
from analytics.estimates import Estimate


def against_days(observed: np.ndarray, days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected attempts and the one-sided p-value of so few, from the same hours of earlier days.

    ``days`` is a days x segments array of attempt counts. Counts are Poisson
    within a day and spread more from day to day; both count as noise.
    """
    estimates = [
        Estimate(row, row, np.maximum(row, 1.0), np.ones_like(row)) for row in days.astype(float)
    ]
    spread = day_spread(estimates, np.ones(days.shape, dtype=bool))
    tau2 = np.nan_to_num(spread.tau2)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(np.maximum(observed, 1.0) + tau2 + spread.mean_variance)
        t = (observed - spread.mean) / sd
        p = np.where(np.isfinite(t), stats.t.cdf(t, np.maximum(spread.days - 1, 1)), 1.0)
    return np.nan_to_num(spread.mean), p


def against_period(observed: np.ndarray, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected attempts and the Poisson probability of at most ``observed`` of them."""
    p = np.where(expected > 0, stats.poisson.cdf(observed, np.maximum(expected, 1e-9)), 1.0)
    return expected, p


def is_quiet(
    observed: np.ndarray,
    expected: np.ndarray,
    p_value: np.ndarray,
    *,
    ratio: float,
    min_expected: np.ndarray | float,
) -> np.ndarray:
    """Where traffic usually reaches ``min_expected`` and fell to at most ``ratio`` of it.

    The p-value is judged later with the report's other tests; this only picks
    the segments worth testing.
    """
    return np.asarray(
        (expected >= min_expected) & (observed <= ratio * expected) & (p_value < 1.0), dtype=bool
    )
