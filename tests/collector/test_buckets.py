"""Latency and confidence buckets: accuracy against numpy and exact merging."""

from __future__ import annotations

import numpy as np
import pytest

from collector import buckets


@pytest.mark.parametrize(
    "sample",
    [
        # log-normal latencies typical of on-device inference
        np.random.default_rng(1).lognormal(mean=3.5, sigma=0.6, size=20_000),
        # a bimodal mix of device and cloud latencies
        np.concatenate(
            [
                np.random.default_rng(2).normal(40, 5, 10_000),
                np.random.default_rng(3).normal(400, 60, 3_000),
            ]
        ).clip(0.5),
        # sub-millisecond to minutes
        np.random.default_rng(4).uniform(0.2, 90_000, 5_000),
    ],
)
@pytest.mark.parametrize("q", [0.5, 0.95, 0.99])
def test_quantile_within_two_percent_of_numpy(sample: np.ndarray, q: float) -> None:
    hist: dict[int, int] = {}
    for value in sample:
        b = buckets.latency_bucket(float(value))
        hist[b] = hist.get(b, 0) + 1
    exact = float(np.percentile(sample, q * 100))
    assert buckets.quantile(hist, q) == pytest.approx(exact, rel=0.02)


def test_every_value_within_two_percent_of_its_bucket_value() -> None:
    for value in np.geomspace(0.002, 3_600_000, 5_000):
        reported = buckets.latency_bucket_value(buckets.latency_bucket(float(value)))
        assert abs(reported - value) / value <= buckets.RELATIVE_ACCURACY + 1e-12


@pytest.mark.parametrize(
    ("value", "bucket"),
    [
        (0.0, buckets.MIN_LATENCY_BUCKET),  # zero clamps to the lowest bucket
        (1e12, buckets.MAX_LATENCY_BUCKET),  # absurd latencies clamp to the highest
        (1.0, 0),  # gamma**0 == 1 closes bucket 0
    ],
)
def test_latency_bucket_edges(value: float, bucket: int) -> None:
    assert buckets.latency_bucket(value) == bucket


@pytest.mark.parametrize(
    ("confidence", "bucket"),
    [(0.0, 0), (0.049, 0), (0.05, 1), (0.5, 10), (0.999, 19), (1.0, 19)],
)
def test_confidence_bucket(confidence: float, bucket: int) -> None:
    assert buckets.confidence_bucket(confidence) == bucket


def test_merge_adds_counts_and_round_trips() -> None:
    merged = buckets.merge('{"-3":1,"58":5}', '{"58":2,"70":1}')
    assert merged == '{"-3":1,"58":7,"70":1}'
    assert buckets.decode(merged) == {-3: 1, 58: 7, 70: 1}
    assert buckets.merge(None, "") == "{}"
    # PostgreSQL's jsonb text form decodes the same
    assert buckets.decode('{"58": 7, "-3": 1}') == {58: 7, -3: 1}
    assert buckets.merge_all(['{"1":1}', None, '{"1":2,"2":1}']) == {1: 3, 2: 1}


def test_quantile_of_empty_histogram_is_none() -> None:
    assert buckets.quantile({}, 0.95) is None
