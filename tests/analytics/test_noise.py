"""The noise a window is judged against: a percentile's sampling variance, and bursts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from analytics.comparisons import DaySpread, against_days, day_spread
from analytics.estimates import Estimate, percentile
from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET
from collector import buckets


def _histogram(latencies: np.ndarray) -> np.ndarray:
    out = np.zeros(LATENCY_BINS)
    np.add.at(out, [buckets.latency_bucket(x) - LATENCY_OFFSET for x in latencies], 1)
    return out


@pytest.mark.parametrize(("n", "q"), [(100, 0.5), (400, 0.5), (400, 0.95), (3000, 0.99)])
def test_a_percentiles_variance_matches_its_spread_over_samples(n: int, q: float) -> None:
    # 400 samples of n log-normal latencies: the mean estimated variance of the log
    # percentile is within 35% of the variance the estimates actually show
    rng = np.random.default_rng(5)
    estimates = [percentile(_histogram(rng.lognormal(5.0, 0.5, n))[None, :], q) for _ in range(400)]
    told = np.mean([e.variance[0] for e in estimates])
    seen = np.var([e.scale[0] for e in estimates])
    assert told == pytest.approx(seen, rel=0.35)


def test_a_clump_at_the_median_does_not_pass_for_precision() -> None:
    # 100 latencies, 20 of them within 2% of each other at the median: the order
    # statistics one standard error either side both fall in the clump, but the
    # variance still reflects the spread of the rest
    rng = np.random.default_rng(8)
    spread = rng.lognormal(6.0, 0.5, 80)
    clump = np.exp(6.0) * rng.uniform(0.99, 1.01, 20)
    est = percentile(_histogram(np.concatenate([spread, clump]))[None, :], 0.5)
    # what 100 independent values of that log-normal give: (1.2533 * 0.5)^2 / 100
    # (one bucket's width alone would be ten times less)
    assert est.variance[0] > 0.3 * (1.2533 * 0.5) ** 2 / 100


def _slices() -> DaySpread:
    """24 slices of sampling variance 0.01 whose values spread twice that."""
    values = np.random.default_rng(3).normal(0.0, np.sqrt(2 * 0.01), 24)
    periods = [
        Estimate(np.array([v]), np.array([v]), np.array([0.01]), np.array([400.0])) for v in values
    ]
    return day_spread(periods, np.ones((24, 1), dtype=bool))


def test_slices_that_spread_beyond_their_sampling_widen_a_wide_window() -> None:
    # 24 slices spread twice their sampling variance; a window whose own sampling is
    # four times theirs (a burst stretched its tail) is judged with twice its own
    spread = _slices()
    window = Estimate(np.array([0.5]), np.array([0.5]), np.array([0.04]), np.array([400.0]))
    cmp = against_days(window, spread, min_days=3, logged=False)
    dispersion = float(spread.dispersion[0])
    assert dispersion > 1
    sd = np.sqrt(0.04 * dispersion + spread.mean_variance[0])
    t = (0.5 - spread.mean[0]) / sd
    assert cmp.p_value[0] == pytest.approx(2 * stats.t.sf(abs(t), 23))


def test_slices_that_spread_by_level_add_to_a_narrow_window() -> None:
    # the same slices; a window as narrow as they are takes their spread added
    spread = _slices()
    window = Estimate(np.array([0.5]), np.array([0.5]), np.array([0.01]), np.array([400.0]))
    cmp = against_days(window, spread, min_days=3, logged=False)
    sd = np.sqrt(0.01 + spread.tau2[0] + spread.mean_variance[0])
    t = (0.5 - spread.mean[0]) / sd
    assert cmp.p_value[0] == pytest.approx(2 * stats.t.sf(abs(t), 23))
