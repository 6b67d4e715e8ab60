"""Statistical tests and intervals on counts, sums and histograms: pure, scipy underneath.

Each function computes one test or one interval from numbers the rollups hold
(counts, sums, squared sums, histograms) and returns a frozen dataclass. None
reads a database or a clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Significance:
    """The outcome of one test: which test, its statistic and its (unadjusted) p-value."""

    method: str
    statistic: float
    p_value: float


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float


_NO_EVIDENCE = Significance(method="none", statistic=0.0, p_value=1.0)


def two_proportion_test(
    x1: int, n1: int, x2: int, n2: int, *, exact_below: float = 5.0
) -> Significance:
    """Whether ``x1/n1`` and ``x2/n2`` differ: Pearson's chi-square on the 2x2 table.

    When any expected cell count is below ``exact_below`` the test is Fisher's
    exact test instead, so that small counts keep a valid p-value. Without any
    event or non-event at all there is nothing to compare and ``p`` is 1.
    """
    if n1 <= 0 or n2 <= 0:
        return _NO_EVIDENCE
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    events = x1 + x2
    total = n1 + n2
    if events == 0 or events == total:
        return _NO_EVIDENCE
    expected = np.outer([n1, n2], [events, total - events]) / total
    if expected.min() < exact_below:
        result = stats.fisher_exact(table.astype(np.int64))
        return Significance("fisher_exact", float(result.statistic), float(result.pvalue))
    statistic, p_value = _pearson(table)
    return Significance("chi2_2x2", statistic, p_value)


def merge_sparse_bins(a: np.ndarray, b: np.ndarray, *, min_expected: float = 5.0) -> np.ndarray:
    """Adjacent buckets of two histograms merged until each expected count is ``min_expected``.

    Returns a ``2 x k`` table. Buckets are merged left to right until the smaller
    histogram's expected count in the merged bucket reaches ``min_expected``; a
    short remainder joins the last merged bucket. This keeps the chi-square
    approximation valid on sparse log-scale latency buckets.
    """
    n_a, n_b = a.sum(), b.sum()
    combined = a + b
    need = min_expected * (n_a + n_b) / max(min(n_a, n_b), 1)
    columns: list[tuple[int, int]] = []
    acc_a = acc_b = 0
    for j in np.nonzero(combined)[0]:
        acc_a += int(a[j])
        acc_b += int(b[j])
        if acc_a + acc_b >= need:
            columns.append((acc_a, acc_b))
            acc_a = acc_b = 0
    if acc_a + acc_b:
        if columns:
            last_a, last_b = columns[-1]
            columns[-1] = (last_a + acc_a, last_b + acc_b)
        else:
            columns.append((acc_a, acc_b))
    return np.array(columns, dtype=np.int64).T.reshape(2, -1)


def histogram_test(a: np.ndarray, b: np.ndarray, *, min_expected: float = 5.0) -> Significance:
    """Whether two histograms over the same buckets come from one distribution.

    Pearson's chi-square test of homogeneity on the ``2 x k`` table after
    :func:`merge_sparse_bins`. With fewer than two merged buckets the histograms
    cannot be told apart and ``p`` is 1.
    """
    if a.sum() == 0 or b.sum() == 0:
        return _NO_EVIDENCE
    table = merge_sparse_bins(a, b, min_expected=min_expected)
    if table.shape[1] < 2:
        return _NO_EVIDENCE
    statistic, p_value = _pearson(table)
    return Significance("chi2_histogram", statistic, p_value)


def _pearson(table: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square test of independence on a table with no empty row or column.

    The same statistic and p-value as ``scipy.stats.chi2_contingency(table,
    correction=False)``, without its per-call overhead (a report runs a thousand).
    """
    table = np.asarray(table, dtype=float)
    expected = stats.contingency.expected_freq(table)
    statistic = float(((table - expected) ** 2 / expected).sum())
    dof = (table.shape[0] - 1) * (table.shape[1] - 1)
    return statistic, float(stats.chi2.sf(statistic, dof))


def mean_and_sd(n: float, total: float, sq_total: float) -> tuple[float, float]:
    """Mean and sample standard deviation from a count, a sum and a sum of squares."""
    if n <= 0:
        return float("nan"), float("nan")
    mean = total / n
    if n < 2:
        return mean, float("nan")
    variance = max((sq_total - total * total / n) / (n - 1), 0.0)
    return mean, math.sqrt(variance)


def welch_test(
    n1: float, sum1: float, sq_sum1: float, n2: float, sum2: float, sq_sum2: float
) -> Significance:
    """Welch's t-test of two means given as count, sum and sum of squares."""
    if n1 < 2 or n2 < 2:
        return _NO_EVIDENCE
    mean1, sd1 = mean_and_sd(n1, sum1, sq_sum1)
    mean2, sd2 = mean_and_sd(n2, sum2, sq_sum2)
    if sd1 == 0 and sd2 == 0:
        # Constant values: equal means are the same, different ones certainly differ.
        same = math.isclose(mean1, mean2)
        return Significance("welch_t", 0.0 if same else math.inf, 1.0 if same else 0.0)
    result = stats.ttest_ind_from_stats(mean1, sd1, n1, mean2, sd2, n2, equal_var=False)
    return Significance("welch_t", float(result.statistic), float(result.pvalue))


def benjamini_hochberg(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values: reject where adjusted ``p <= q`` keeps FDR at q."""
    ps = np.asarray(p_values, dtype=float)
    if ps.size == 0:
        return ps
    return np.asarray(stats.false_discovery_control(ps, method="bh"))


def mean_interval(n: float, total: float, sq_total: float, *, level: float = 0.95) -> Interval:
    """Student-t confidence interval of a mean from count, sum and sum of squares."""
    mean, sd = mean_and_sd(n, total, sq_total)
    if n < 2 or math.isnan(sd):
        return Interval(float("nan"), float("nan"))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return Interval(mean - half, mean + half)


def mean_difference_interval(
    a: tuple[float, float, float], b: tuple[float, float, float], *, level: float = 0.95
) -> Interval:
    """Welch confidence interval of ``mean(a) - mean(b)``; each side is (count, sum, sq_sum)."""
    (n1, s1, q1), (n2, s2, q2) = a, b
    mean1, sd1 = mean_and_sd(n1, s1, q1)
    mean2, sd2 = mean_and_sd(n2, s2, q2)
    if n1 < 2 or n2 < 2:
        return Interval(float("nan"), float("nan"))
    v1, v2 = sd1 * sd1 / n1, sd2 * sd2 / n2
    se = math.sqrt(v1 + v2)
    diff = mean1 - mean2
    if se == 0:
        return Interval(diff, diff)
    dof = (v1 + v2) ** 2 / ((v1 * v1) / (n1 - 1) + (v2 * v2) / (n2 - 1))
    half = float(stats.t.ppf(0.5 + level / 2, dof)) * se
    return Interval(diff - half, diff + half)


def proportion_interval(x: int, n: int, *, level: float = 0.95) -> Interval:
    """Wilson score interval of the proportion ``x/n``."""
    if n <= 0:
        return Interval(float("nan"), float("nan"))
    ci = stats.binomtest(int(x), int(n)).proportion_ci(confidence_level=level, method="wilson")
    return Interval(float(ci.low), float(ci.high))


def proportion_difference_interval(
    x1: int, n1: int, x2: int, n2: int, *, level: float = 0.95
) -> Interval:
    """Newcombe's hybrid score interval of ``x1/n1 - x2/n2`` (from two Wilson intervals)."""
    if n1 <= 0 or n2 <= 0:
        return Interval(float("nan"), float("nan"))
    p1, p2 = x1 / n1, x2 / n2
    a, b = proportion_interval(x1, n1, level=level), proportion_interval(x2, n2, level=level)
    diff = p1 - p2
    low = diff - math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)
    high = diff + math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)
    return Interval(low, high)


def quantile_interval(
    histogram: np.ndarray, q: float, values: np.ndarray, *, level: float = 0.95
) -> Interval:
    """Distribution-free confidence interval of the ``q`` quantile of a histogram.

    The ranks of the order statistics that bracket the quantile with probability
    ``level`` come from the binomial distribution ``Binomial(n, q)``; the interval
    is the values of the buckets holding those ranks.
    """
    n = int(histogram.sum())
    if n == 0:
        return Interval(float("nan"), float("nan"))
    tail = (1 - level) / 2
    low_rank = max(int(stats.binom.ppf(tail, n, q)) - 1, 0)
    high_rank = min(int(stats.binom.ppf(1 - tail, n, q)), n - 1)
    running = np.cumsum(histogram)
    low = values[int(np.argmax(running > low_rank))]
    high = values[int(np.argmax(running > high_rank))]
    return Interval(float(low), float(high))
