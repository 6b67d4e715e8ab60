"""Dense histogram arrays over the collector's fixed buckets: parse and quantiles.

The collector stores sparse JSON histograms (see :mod:`collector.buckets`). The read
side turns them into dense ``int64`` rows over every possible bucket, so that
histograms of many segments or minutes add up as a matrix and their quantiles are
one vectorised step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from collector import buckets

#: Dense latency column ``j`` holds log-scale bucket ``LATENCY_OFFSET + j``.
LATENCY_OFFSET = buckets.MIN_LATENCY_BUCKET
LATENCY_BINS = buckets.MAX_LATENCY_BUCKET - buckets.MIN_LATENCY_BUCKET + 1
#: The value each dense latency column reports (ms), within 2% of anything in it.
LATENCY_VALUES = np.array(
    [buckets.latency_bucket_value(LATENCY_OFFSET + j) for j in range(LATENCY_BINS)]
)
CONFIDENCE_BINS = buckets.CONFIDENCE_BUCKETS
CONFIDENCE_VALUES = np.array([buckets.confidence_bucket_value(j) for j in range(CONFIDENCE_BINS)])
_LOG_GAMMA = float(np.log(buckets.GAMMA))
_STRIP = str.maketrans({"{": None, "}": None, '"': None, ":": ","})


def parse_joined(text: str | None, *, offset: int, bins: int) -> np.ndarray:
    """One dense histogram from stored sparse histograms joined by commas.

    ``'{"3":2,"5":1},{"3":1}'`` with ``offset=0, bins=8`` is ``[0,0,0,3,0,1,0,0]``.
    SQL concatenates a group's histograms; this adds them in one vectorised pass.
    """
    if not text:
        return np.zeros(bins, dtype=np.int64)
    pairs = np.fromstring(text.translate(_STRIP), dtype=np.int64, sep=",")
    index = pairs[0::2] - offset
    counts = pairs[1::2]
    out = np.bincount(index, weights=counts, minlength=bins)
    return np.rint(out[:bins]).astype(np.int64)


def dense(histogram: Mapping[int, int], *, offset: int, bins: int) -> np.ndarray:
    """A sparse ``{bucket: count}`` histogram as a dense row."""
    out = np.zeros(bins, dtype=np.int64)
    for bucket, count in histogram.items():
        out[bucket - offset] += count
    return out


def sparse(row: np.ndarray, *, offset: int) -> dict[int, int]:
    """A dense row as the collector's sparse ``{bucket: count}`` form."""
    (nonzero,) = np.nonzero(row)
    return {int(j + offset): int(row[j]) for j in nonzero}


def latency_row(latencies_ms: Sequence[float] | np.ndarray) -> np.ndarray:
    """The dense latency histogram of raw latencies, bucketed as the collector buckets them."""
    values = np.clip(
        np.asarray(latencies_ms, dtype=float), buckets.MIN_LATENCY_MS, buckets.MAX_LATENCY_MS
    )
    index = np.ceil(np.log(values) / _LOG_GAMMA).astype(np.int64)
    # Floating point can put a value on the wrong side of a bucket edge; the collector's
    # own function decides those few.
    edge = np.abs(np.log(values) / _LOG_GAMMA - np.round(np.log(values) / _LOG_GAMMA)) < 1e-9
    for i in np.nonzero(edge)[0]:
        index[i] = buckets.latency_bucket(float(values[i]))
    return np.bincount(index - LATENCY_OFFSET, minlength=LATENCY_BINS).astype(np.int64)


def confidence_row(confidences: Sequence[float] | np.ndarray) -> np.ndarray:
    """The dense confidence histogram of raw confidences in [0, 1]."""
    values = np.asarray(confidences, dtype=float)
    index = np.minimum((values * CONFIDENCE_BINS).astype(np.int64), CONFIDENCE_BINS - 1)
    return np.bincount(index, minlength=CONFIDENCE_BINS).astype(np.int64)


def quantiles(histograms: np.ndarray, qs: Sequence[float], values: np.ndarray) -> np.ndarray:
    """The ``qs`` quantiles of every row of ``histograms`` (shape ``rows x len(qs)``).

    The same rule as :func:`collector.buckets.quantile`: the rank is ``q * (n - 1)``
    and the answer is the value of the first bucket whose running count passes it,
    so latencies come out within 2% of numpy's exact sample quantile. Empty rows
    give NaN.
    """
    matrix = np.atleast_2d(histograms)
    totals = matrix.sum(axis=1)
    running = np.cumsum(matrix, axis=1)
    out = np.full((matrix.shape[0], len(qs)), np.nan)
    filled = totals > 0
    if not filled.any():
        return out
    for k, q in enumerate(qs):
        rank = q * (totals[filled] - 1)
        column = np.argmax(running[filled] > rank[:, None], axis=1)
        out[filled, k] = values[column]
    return out
