"""Hand-made bucket sums for the routing what-if, and a small fleet of them."""

from __future__ import annotations

import numpy as np

from analytics.advice_rollups import ADVICE_BUCKETS, BucketSums
from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET
from collector.buckets import latency_bucket
from collector.schema import ADVICE_HISTOGRAMS, ADVICE_SUMS


def latency_row(value_ms: float, count: float) -> np.ndarray:
    """A dense latency histogram: ``count`` latencies of ``value_ms``."""
    row = np.zeros(LATENCY_BINS, dtype=np.int64)
    row[latency_bucket(value_ms) - LATENCY_OFFSET] = count
    return row


def bucket_sums(**buckets: dict[str, float]) -> BucketSums:
    """Bucket sums from ``b20={"attempts": 10, ...}``; latencies given as ``(ms, count)``."""
    sums = {name: np.zeros(ADVICE_BUCKETS) for name in ADVICE_SUMS}
    histograms = {
        name: np.zeros((ADVICE_BUCKETS, LATENCY_BINS), dtype=np.int64) for name in ADVICE_HISTOGRAMS
    }
    for key, values in buckets.items():
        b = int(key[1:])
        for name, value in values.items():
            if name in histograms:
                histograms[name][b] = latency_row(*value)  # type: ignore[misc]
            else:
                sums[name][b] = value
    return BucketSums(sums=sums, histograms=histograms, hours=3, models=("tagger",))


# 10 attempts at confidence 0.20 fell back to the cloud (local right 3 times, the cloud 9);
# 30 at 0.80 were served (right 27 times).
FLEET = {
    "b20": {
        "attempts": 10, "low_confidence": 10,
        "local_quality_count": 10, "local_quality_sum": 3, "local_quality_sq_sum": 3,
        "escalated": 10, "cloud_quality_count": 10, "cloud_quality_sum": 9,
        "cloud_quality_sq_sum": 9, "local_latency_hist": (100.0, 10),
        "cloud_latency_hist": (200.0, 10), "energy_count": 10, "energy_mj_sum": 500.0,
    },
    "b80": {
        "attempts": 30,
        "local_quality_count": 30, "local_quality_sum": 27, "local_quality_sq_sum": 27,
        "local_latency_hist": (100.0, 30), "energy_count": 30, "energy_mj_sum": 1500.0,
    },
}  # fmt: skip
