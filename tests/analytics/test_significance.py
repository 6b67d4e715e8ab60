"""The statistics on small arrays: each test and interval against a known answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from analytics.significance import (
    benjamini_hochberg,
    histogram_test,
    mean_and_sd,
    mean_difference_interval,
    mean_interval,
    merge_sparse_bins,
    proportion_difference_interval,
    proportion_interval,
    quantile_interval,
    two_proportion_test,
    welch_test,
)


@pytest.mark.parametrize(
    ("counts", "method", "p_value"),
    [
        # large counts: Pearson chi-square without continuity correction
        ((40, 1000, 20, 1000), "chi2_2x2", 0.00875),
        # an expected cell below 5: Fisher's exact test
        ((3, 20, 0, 20), "fisher_exact", 0.23077),
        # the same rate on both sides
        ((50, 1000, 50, 1000), "chi2_2x2", 1.0),
        # no events anywhere: nothing to compare
        ((0, 100, 0, 100), "none", 1.0),
        # an empty side
        ((3, 0, 1, 10), "none", 1.0),
    ],
)
def test_two_proportion_test(
    counts: tuple[int, int, int, int], method: str, p_value: float
) -> None:
    result = two_proportion_test(*counts)
    assert result.method == method
    assert result.p_value == pytest.approx(p_value, abs=5e-5)


def test_two_proportion_matches_scipy() -> None:
    # the large-count branch is scipy's chi-square on the 2x2 table
    table = np.array([[40, 960], [20, 980]])
    expected = stats.chi2_contingency(table, correction=False).pvalue
    assert two_proportion_test(40, 1000, 20, 1000).p_value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("a", "b", "table"),
    [
        # plenty in each bucket: nothing merged
        ([10, 10, 10], [10, 10, 10], [[10, 10, 10], [10, 10, 10]]),
        # sparse buckets merged left to right until the expected count reaches 5
        ([2, 3, 5, 10], [2, 3, 5, 10], [[5, 5, 10], [5, 5, 10]]),
        # too little for two buckets: everything in one
        ([1, 1, 1, 1, 6], [1, 1, 1, 1, 6], [[10], [10]]),
        # empty buckets are skipped; a short remainder joins the last bucket
        ([5, 0, 5, 1], [5, 0, 5, 1], [[5, 6], [5, 6]]),
    ],
)
def test_merge_sparse_bins(a: list[int], b: list[int], table: list[list[int]]) -> None:
    merged = merge_sparse_bins(np.array(a), np.array(b))
    assert merged.tolist() == table


@pytest.mark.parametrize(
    ("a", "b", "method", "p_below", "p_above"),
    [
        # the same histogram twice
        ([0, 50, 100, 50, 0], [0, 50, 100, 50, 0], "chi2_histogram", 1.01, 0.99),
        # all of one side moved two buckets up
        ([0, 50, 100, 50, 0, 0], [0, 0, 0, 50, 100, 50], "chi2_histogram", 1e-10, 0.0),
        # one empty side: no evidence
        ([0, 0, 0], [1, 2, 3], "none", 1.01, 0.99),
        # one bucket only: cannot be told apart
        ([0, 9, 0], [0, 7, 0], "none", 1.01, 0.99),
    ],
)
def test_histogram_test(
    a: list[int], b: list[int], method: str, p_below: float, p_above: float
) -> None:
    result = histogram_test(np.array(a), np.array(b))
    assert result.method == method
    assert p_above <= result.p_value < p_below


def test_mean_and_sd_from_sums() -> None:
    values = np.array([0.2, 0.4, 0.9, 0.5])
    mean, sd = mean_and_sd(len(values), values.sum(), (values**2).sum())
    assert mean == pytest.approx(values.mean())
    assert sd == pytest.approx(values.std(ddof=1))


def test_welch_test_matches_scipy_on_raw_values() -> None:
    a = np.array([0.8, 0.7, 0.9, 0.85, 0.75, 0.8])
    b = np.array([0.6, 0.65, 0.7, 0.55, 0.62])
    result = welch_test(len(a), a.sum(), (a**2).sum(), len(b), b.sum(), (b**2).sum())
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert result.method == "welch_t"
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


@pytest.mark.parametrize(
    ("a", "b", "p_value"),
    [
        # constant and equal: no difference
        ((3, 3.0, 3.0), (4, 4.0, 4.0), 1.0),
        # constant and different: certainly different
        ((3, 3.0, 3.0), (4, 2.0, 1.0), 0.0),
        # one value on a side: not testable
        ((1, 0.5, 0.25), (10, 5.0, 2.6), 1.0),
    ],
)
def test_welch_test_edge_cases(
    a: tuple[float, float, float], b: tuple[float, float, float], p_value: float
) -> None:
    assert welch_test(*a, *b).p_value == p_value


def test_benjamini_hochberg() -> None:
    # the textbook example: adjusted p = min over later ranks of p * m / rank
    adjusted = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert adjusted.tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]).tolist() == []


def test_intervals() -> None:
    values = np.array([0.1, 0.5, 0.3, 0.7, 0.4])
    ci = mean_interval(len(values), values.sum(), (values**2).sum())
    half = stats.t.ppf(0.975, 4) * values.std(ddof=1) / math.sqrt(5)
    assert (ci.low, ci.high) == pytest.approx((values.mean() - half, values.mean() + half))

    wilson = proportion_interval(10, 100)
    assert (wilson.low, wilson.high) == pytest.approx((0.05523, 0.17437), abs=1e-5)

    diff = proportion_difference_interval(10, 100, 10, 100)
    assert diff.low < 0 < diff.high
    assert diff.low == pytest.approx(-diff.high)

    a, b = (5, values.sum(), (values**2).sum()), (5, values.sum() + 1, (values**2).sum() + 0.8)
    mdiff = mean_difference_interval(a, b)
    assert mdiff.low < -0.2 < mdiff.high


def test_quantile_interval_brackets_the_quantile() -> None:
    histogram = np.array([0, 100, 300, 400, 150, 50])
    values = np.arange(6, dtype=float)
    # n = 1000: the median's ranks 468..530 all fall in bucket 3
    ci = quantile_interval(histogram, 0.5, values)
    assert (ci.low, ci.high) == (3.0, 3.0)
    # n = 20: ranks 5..14 span buckets 1 and 2
    ci = quantile_interval(np.array([5, 5, 5, 5]), 0.5, np.arange(4, dtype=float))
    assert (ci.low, ci.high) == (1.0, 2.0)
    assert math.isnan(quantile_interval(np.zeros(6), 0.5, values).low)


@pytest.mark.parametrize(
    "table",
    [
        [[40, 960], [20, 980]],  # a 2x2 table
        [[5, 9, 30, 12], [7, 3, 28, 20]],  # a merged histogram table
    ],
)
def test_pearson_matches_chi2_contingency(table: list[list[int]]) -> None:
    from analytics.significance import _pearson

    expected = stats.chi2_contingency(np.array(table), correction=False)
    statistic, p_value = _pearson(np.array(table))
    assert statistic == pytest.approx(expected.statistic)
    assert p_value == pytest.approx(expected.pvalue)
