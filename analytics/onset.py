"""Onset: when a change began, as the change point of a segment's series.

Pure. :func:`step_onset` finds the single split of a series into a before and
an after that explains most of its variation (weighted least squares, as in
binary segmentation), where the after is worse; :func:`silent_since` is the end
of the last bucket with traffic.
"""

from __future__ import annotations

import numpy as np


def step_onset(values: np.ndarray, weights: np.ndarray, *, worse: int) -> int | None:
    """The index of the first bucket after the best change point, or ``None``.

    ``values`` per bucket (NaN where a bucket has no data) with ``weights`` (how
    many observations each rests on). The split maximises the weighted
    between-part sum of squares; it counts only when the later part is worse
    (``worse`` +1: higher is worse, -1: lower is).
    """
    ok = np.isfinite(values) & (weights > 0)
    index = np.nonzero(ok)[0]
    if len(index) < 2:
        return None
    x, w = values[ok], weights[ok].astype(float)
    cw = np.cumsum(w)
    cx = np.cumsum(w * x)
    total_w, total_x = cw[-1], cx[-1]
    left_w, left_x = cw[:-1], cx[:-1]
    right_w, right_x = total_w - left_w, total_x - left_x
    with np.errstate(invalid="ignore", divide="ignore"):
        left_mean, right_mean = left_x / left_w, right_x / right_w
        gain = left_w * right_w / total_w * (right_mean - left_mean) ** 2
    gain = np.where(worse * (right_mean - left_mean) > 0, gain, -np.inf)
    best = int(np.argmax(gain))
    if not np.isfinite(gain[best]):
        return None
    return int(index[best + 1])


def silent_since(counts: np.ndarray) -> int | None:
    """The index of the bucket after the last one with traffic (0 when none had any).

    ``None`` when the last bucket still has traffic.
    """
    busy = np.nonzero(counts > 0)[0]
    if len(busy) == 0:
        return 0
    last = int(busy[-1])
    return None if last == len(counts) - 1 else last + 1
