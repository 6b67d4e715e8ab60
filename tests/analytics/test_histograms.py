"""Dense histograms: parsing stored text, quantiles against numpy, PSI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.histograms import (
    CONFIDENCE_VALUES,
    LATENCY_BINS,
    LATENCY_OFFSET,
    LATENCY_VALUES,
    confidence_row,
    dense,
    latency_row,
    parse_joined,
    quantiles,
    sparse,
)
from collector import buckets


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # two stored histograms joined by a comma add up
        ('{"3":2,"5":1},{"3":1}', [0, 0, 0, 3, 0, 1, 0, 0]),
        # nothing stored
        (None, [0] * 8),
        # one histogram
        ('{"0":4,"7":1}', [4, 0, 0, 0, 0, 0, 0, 1]),
    ],
)
def test_parse_joined(text: str | None, expected: list[int]) -> None:
    assert parse_joined(text, offset=0, bins=8).tolist() == expected


def test_parse_negative_latency_buckets() -> None:
    # sub-millisecond latencies have negative bucket numbers
    row = parse_joined('{"-20":2,"10":1}', offset=LATENCY_OFFSET, bins=LATENCY_BINS)
    assert sparse(row, offset=LATENCY_OFFSET) == {-20: 2, 10: 1}


def test_dense_and_sparse_round_trip() -> None:
    histogram = {-3: 1, 0: 5, 120: 2}
    row = dense(histogram, offset=LATENCY_OFFSET, bins=LATENCY_BINS)
    assert sparse(row, offset=LATENCY_OFFSET) == histogram


def test_latency_row_buckets_like_the_collector() -> None:
    values = [0.0005, 0.9, 1.0, 12.5, 140.0, 2_000.0, 1e9]
    expected: dict[int, int] = {}
    for v in values:
        bucket = buckets.latency_bucket(v)
        expected[bucket] = expected.get(bucket, 0) + 1
    assert sparse(latency_row(values), offset=LATENCY_OFFSET) == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_quantiles_within_two_percent_of_numpy(seed: int, q: float) -> None:
    rng = np.random.default_rng(seed)
    latencies = rng.lognormal(np.log(120), 0.8, 5_000)
    row = latency_row(latencies)
    got = quantiles(row, (q,), LATENCY_VALUES)[0, 0]
    # buckets.quantile's rank is q * (n - 1), the lower order statistic numpy interpolates from
    exact = np.quantile(latencies, q, method="lower")
    assert abs(got - exact) / exact <= 0.02
    assert got == pytest.approx(buckets.quantile(sparse(row, offset=LATENCY_OFFSET), q))


def test_quantiles_of_many_rows_and_empty_rows() -> None:
    rows = np.zeros((2, LATENCY_BINS), dtype=np.int64)
    rows[0] = latency_row([10.0, 20.0, 30.0])
    result = quantiles(rows, (0.5,), LATENCY_VALUES)
    assert result[0, 0] == pytest.approx(20.0, rel=0.02)
    assert math.isnan(result[1, 0])


def test_confidence_row() -> None:
    row = confidence_row([0.0, 0.04, 0.05, 0.99, 1.0])
    assert row[0] == 2 and row[1] == 1 and row[19] == 2
    assert CONFIDENCE_VALUES[0] == pytest.approx(0.025)
