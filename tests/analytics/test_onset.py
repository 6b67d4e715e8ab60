"""Onset: the bucket where a change began, and the bucket where traffic stopped."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.onset import silent_since, step_onset

NAN = float("nan")


@pytest.mark.parametrize(
    ("values", "weights", "worse", "expected"),
    [
        ([1, 1, 1, 1, 5, 5, 5, 5], [1] * 8, 1, 4),  # a step up in the middle, higher is worse
        ([5, 5, 5, 5, 1, 1, 1, 1], [1] * 8, -1, 4),  # a step down, lower is worse
        ([1, 1, 1, 1, 5, 5, 5, 5], [1] * 8, -1, None),  # a step up where higher is better
        ([5, 5, 5, 5, 1, 1, 1, 1], [1] * 8, 1, None),  # a step down where lower is better
        ([3, 3, 3, 3, 3], [1] * 5, 1, None),  # no change
        ([1, 1, 5], [1, 1, 1], 1, 2),  # a step in the last bucket
        ([1, 5, 5], [1, 1, 1], 1, 1),  # a step right after the first bucket
        ([1, NAN, 1, 1, 5, NAN, 5], [1] * 7, 1, 4),  # NaN buckets are skipped
        ([1, NAN, NAN, 5], [1] * 4, 1, 3),  # the onset is the first bucket with data after
        ([1, 1, 9, 1, 5, 5], [1, 1, 0, 1, 1, 1], 1, 4),  # a bucket of weight 0 is skipped
        ([1, 3, 5], [10, 1, 1], 1, 1),  # a heavy first bucket draws the split to it
        ([1, 3, 5], [1, 1, 10], 1, 2),  # a heavy last bucket draws the split to it
        ([NAN, 3], [1, 1], 1, None),  # fewer than two buckets with data
        ([], [], 1, None),  # no buckets at all
    ],
)
def test_step_onset(
    values: list[float], weights: list[float], worse: int, expected: int | None
) -> None:
    onset = step_onset(np.array(values, dtype=float), np.array(weights, dtype=float), worse=worse)
    assert onset == expected


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ([3, 2, 0, 0], 2),  # traffic stopped after the second bucket
        ([3, 2, 1, 1], None),  # the last bucket still has traffic
        ([0, 4, 0], 2),  # a burst, then silence
        ([4, 0, 1], None),  # a gap in the middle is not silence
        ([0, 0, 0], 0),  # no traffic anywhere: silent from the start
        ([5], None),  # one bucket, with traffic
        ([], 0),  # no buckets at all
    ],
)
def test_silent_since(counts: list[int], expected: int | None) -> None:
    assert silent_since(np.array(counts, dtype=np.int64)) == expected
