"""Fixed, mergeable histogram buckets for latency and confidence.

Latency uses log-scale buckets with a guaranteed relative accuracy of 2%: bucket
``i`` holds values in ``(gamma**(i-1), gamma**i]`` with
``gamma = (1 + 0.02) / (1 - 0.02)``, and reports ``2 * gamma**i / (gamma + 1)``,
which is within 2% of every value in the bucket (the mapping DDSketch uses).
Because the buckets are fixed, histograms from any minutes, segments or
collectors merge by adding counts.

Confidence uses twenty linear buckets of width 0.05 over ``[0, 1]``.

Histograms are stored as compact JSON objects, ``{"<bucket>": <count>}``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.02
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
#: Latencies are clamped into [MIN_LATENCY_MS, MAX_LATENCY_MS] before bucketing.
MIN_LATENCY_MS = 0.001
MAX_LATENCY_MS = 24 * 3600 * 1000.0
MIN_LATENCY_BUCKET = math.ceil(math.log(MIN_LATENCY_MS) / _LOG_GAMMA)
MAX_LATENCY_BUCKET = math.ceil(math.log(MAX_LATENCY_MS) / _LOG_GAMMA)

CONFIDENCE_BUCKETS = 20


def latency_bucket(latency_ms: float) -> int:
    """The log-scale bucket that holds ``latency_ms``."""
    if latency_ms <= MIN_LATENCY_MS:
        return MIN_LATENCY_BUCKET
    if latency_ms >= MAX_LATENCY_MS:
        return MAX_LATENCY_BUCKET
    return math.ceil(math.log(latency_ms) / _LOG_GAMMA)


def latency_bucket_value(bucket: int) -> float:
    """The value reported for a latency bucket: within 2% of anything in it."""
    return 2.0 * GAMMA**bucket / (GAMMA + 1.0)


def confidence_bucket(confidence: float) -> int:
    """The linear bucket (0..19) that holds a confidence in [0, 1]."""
    return min(int(confidence * CONFIDENCE_BUCKETS), CONFIDENCE_BUCKETS - 1)


def confidence_bucket_value(bucket: int) -> float:
    """The middle of a confidence bucket."""
    return (bucket + 0.5) / CONFIDENCE_BUCKETS


def encode(histogram: Mapping[int, int]) -> str:
    """Serialise a histogram to its stored JSON text (buckets in ascending order)."""
    # The same text json.dumps gives, written directly: this runs for every rollup row.
    return "{" + ",".join(f'"{k}":{histogram[k]}' for k in sorted(histogram)) + "}"


def decode(text: str | None) -> dict[int, int]:
    """Parse a stored histogram."""
    if not text:
        return {}
    return {int(k): int(v) for k, v in json.loads(text).items()}


def merge(a: str | None, b: str | None) -> str:
    """Add two stored histograms; used as the SQL function ``tw_hist_merge`` on SQLite."""
    if not b or b == "{}":
        return a or "{}"
    if not a or a == "{}":
        return b
    # Keys stay text: only their order needs them as numbers. This runs in every upsert.
    total: dict[str, int] = json.loads(a)
    for bucket, count in json.loads(b).items():
        total[bucket] = total.get(bucket, 0) + count
    return "{" + ",".join(f'"{k}":{total[k]}' for k in sorted(total, key=int)) + "}"


def merge_all(texts: Iterable[str | None]) -> dict[int, int]:
    """Add any number of stored histograms."""
    total: dict[int, int] = {}
    for text in texts:
        for bucket, count in decode(text).items():
            total[bucket] = total.get(bucket, 0) + count
    return total


def quantile(histogram: Mapping[int, int], q: float) -> float | None:
    """The ``q``-quantile (0..1) of a latency histogram, or ``None`` when it is empty.

    The rank is ``q * (n - 1)`` (the lower order statistic numpy interpolates from),
    so the answer is within 2% of the exact sample quantile.
    """
    n = sum(histogram.values())
    if n == 0:
        return None
    rank = q * (n - 1)
    seen = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen > rank:
            return latency_bucket_value(bucket)
    return latency_bucket_value(max(histogram))
