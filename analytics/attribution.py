"""Which sub-segments explain a segment's change: the smallest that explain most of it.

Pure functions. When ``tier=device`` degrades, its attempts are split by the
dimensions the report did not use (``device_model``, ``model_version``, ...; one
or two at a time). For each split, sub-segments are taken in order of how much
of the change they carry until they explain ``share`` of it; among the splits
that get there with at most ``max_segments`` sub-segments, the one whose named
sub-segments hold the fewest window attempts wins, a split by more dimensions
only when it names at most half the attempts of the best coarser one (so
``model_version=2.2.0`` is not split into its device models). A degradation confined to
``device_model=galaxy-a14, model_version=2.2.0`` is named as exactly that.

A rate or mean decomposes exactly: with window weights ``w`` and baseline
weights ``v`` of the parent's denominators, sub-segment ``c`` carries
``w_c * r_c(window) - v_c * r_c(baseline)`` and these add up to the parent's
change. A percentile does not add up, so a sub-segment carries how much the
parent's percentile falls when that sub-segment's window histogram is replaced
by its baseline one (scaled to its window count).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from analytics.aggregates import Aggregates, reindex
from analytics.histograms import LATENCY_VALUES, quantiles

#: Metrics explained as a ratio of two rollup sums: metric -> (numerator, denominator).
RATIO_METRICS = {
    "error_rate": ("errors", "attempts"),
    "fallback_rate": ("fallbacks", "attempts"),
    "confidence_mean": ("confidence_sum", "confidence_count"),
    "quality_mean": ("quality_sum", "quality_count"),
}
#: Metrics explained as a latency percentile: metric -> quantile.
QUANTILE_METRICS = {"latency_p50_ms": 0.5, "latency_p95_ms": 0.95, "latency_p99_ms": 0.99}
#: How much smaller (in window attempts) a finer split's explanation must be to be preferred.
_FINER = 0.5


@dataclass(frozen=True)
class Contribution:
    """One sub-segment's part in a finding's change.

    ``key`` holds only the dimensions added to the parent segment's key;
    ``share`` is the fraction of the parent's change it explains (1.0 is all of it).
    """

    key: dict[str, str]
    window_value: float | None
    baseline_value: float | None
    share: float
    window_attempts: int


def explain_change(
    metric: str,
    *,
    window: Aggregates,
    baseline: Aggregates,
    segments: pd.DataFrame,
    dimensions: Sequence[str],
    worse: int,
    share: float = 0.8,
    max_segments: int = 3,
    max_depth: int = 2,
) -> tuple[Contribution, ...]:
    """The smallest sub-segments that explain ``share`` of a change of ``metric``.

    ``window`` and ``baseline`` are per-segment-id aggregates of the parent
    segment; ``segments`` maps those ids to dimension values; ``dimensions`` are
    the ones the parent is split by. ``worse`` is +1 when a rise is worse, -1 when
    a fall is. Returns nothing when the metric did not get worse or no split of at
    most ``max_segments`` sub-segments explains enough.
    """
    if metric not in RATIO_METRICS and metric not in QUANTILE_METRICS:
        return ()
    ids = np.union1d(window.labels, baseline.labels)
    w, b = reindex(window, ids), reindex(baseline, ids)
    info = segments.reindex(ids)
    scorer = _Scorer(metric, w, b, worse)
    if not scorer.change > 0:
        return ()
    active = info[w.column("attempts") > 0]
    candidates = [d for d in dimensions if active[d].nunique() > 1]
    best: tuple[float, tuple[Contribution, ...]] | None = None
    for depth in range(1, max_depth + 1):
        level: tuple[tuple[float, int], tuple[Contribution, ...]] | None = None
        for combo in combinations(candidates, depth):
            codes, keys = _split(info, combo)
            chosen = scorer.choose(codes, len(keys), share=share, max_segments=max_segments)
            if chosen is None:
                continue
            picked, size = chosen
            if level is None or (size, len(picked)) < level[0]:
                level = ((size, len(picked)), tuple(scorer.describe(codes, keys, combo, picked)))
        # A finer split wins only when it names clearly fewer attempts (at most half):
        # otherwise "model_version=2.2.0" would lose to three of its device models.
        if level is not None and (best is None or level[0][0] <= _FINER * best[0]):
            best = (level[0][0], level[1])
    return best[1] if best is not None else ()


def _split(info: pd.DataFrame, combo: tuple[str, ...]) -> tuple[np.ndarray, pd.DataFrame]:
    codes = info.groupby(list(combo), sort=True).ngroup().to_numpy(dtype=np.int64)
    keys = info[list(combo)].assign(_code=codes).drop_duplicates("_code").sort_values("_code")
    return codes, keys.drop(columns="_code").reset_index(drop=True)


class _Scorer:
    """Contributions of sub-segments to one metric's change, for any split."""

    def __init__(self, metric: str, window: Aggregates, baseline: Aggregates, worse: int) -> None:
        self.metric = metric
        self.worse = worse
        self.window_attempts = window.column("attempts")
        self.total_attempts = max(float(self.window_attempts.sum()), 1.0)
        if metric in RATIO_METRICS:
            num, den = RATIO_METRICS[metric]
            self.num_w, self.den_w = window.column(num), window.column(den)
            self.num_b, self.den_b = baseline.column(num), baseline.column(den)
            self.quantile = None
            dw, db = self.den_w.sum(), self.den_b.sum()
            if dw <= 0 or db <= 0:
                self.change = 0.0
                return
            self.change = worse * (self.num_w.sum() / dw - self.num_b.sum() / db)
        else:
            self.quantile = QUANTILE_METRICS[metric]
            self.hist_w = window.latency.astype(float)
            self.hist_b = baseline.latency.astype(float)
            self.parent = self.hist_w.sum(axis=0)
            self.actual = self._q(self.parent[None, :])[0]
            if np.isnan(self.actual) or self.hist_b.sum() == 0:
                self.change = 0.0
                return
            self.change = worse * (self.actual - self._q(self.hist_b.sum(axis=0)[None, :])[0])

    def _q(self, hist: np.ndarray) -> np.ndarray:
        assert self.quantile is not None
        return quantiles(hist, (self.quantile,), LATENCY_VALUES)[:, 0]

    def _child_hists(self, codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        onehot = np.zeros((n, len(codes)))
        onehot[codes, np.arange(len(codes))] = 1.0
        return onehot @ self.hist_w, onehot @ self.hist_b

    def _counterfactual(self, child_w: np.ndarray, child_b: np.ndarray) -> np.ndarray:
        """Parent histograms with each row's window part replaced by its scaled baseline part."""
        n_w, n_b = child_w.sum(axis=1), child_b.sum(axis=1)
        scale = np.where(n_b > 0, n_w / np.where(n_b > 0, n_b, 1), 0.0)
        return self.parent[None, :] - child_w + child_b * scale[:, None]

    def contributions(self, codes: np.ndarray, n: int) -> np.ndarray:
        if self.quantile is None:
            cw = np.bincount(codes, self.num_w, n) / self.den_w.sum()
            cb = np.bincount(codes, self.num_b, n) / self.den_b.sum()
            return self.worse * (cw - cb)
        child_w, child_b = self._child_hists(codes, n)
        return self.worse * (self.actual - self._q(self._counterfactual(child_w, child_b)))

    def explained(self, codes: np.ndarray, n: int, picked: list[int], single: np.ndarray) -> float:
        if self.quantile is None:
            return float(single[picked].sum())
        child_w, child_b = self._child_hists(codes, n)
        rows = np.array(picked)
        together = self._counterfactual(
            child_w[rows].sum(axis=0)[None, :], child_b[rows].sum(0)[None, :]
        )
        return float(self.worse * (self.actual - self._q(together)[0]))

    def choose(
        self, codes: np.ndarray, n: int, *, share: float, max_segments: int
    ) -> tuple[list[int], float] | None:
        """The fewest sub-segments explaining ``share`` of the change, and their attempt share."""
        single = self.contributions(codes, n)
        order = [int(i) for i in np.argsort(-single, kind="stable") if single[i] > 0]
        picked: list[int] = []
        for child in order[:max_segments]:
            picked.append(child)
            if self.explained(codes, n, picked, single) >= share * self.change:
                attempts = np.bincount(codes, self.window_attempts, n)[picked].sum()
                return picked, float(attempts / self.total_attempts)
        return None

    def describe(
        self, codes: np.ndarray, keys: pd.DataFrame, combo: tuple[str, ...], picked: list[int]
    ) -> list[Contribution]:
        n = len(keys)
        single = self.contributions(codes, n)
        attempts = np.bincount(codes, self.window_attempts, n)
        if self.quantile is None:
            num_w, den_w = np.bincount(codes, self.num_w, n), np.bincount(codes, self.den_w, n)
            num_b, den_b = np.bincount(codes, self.num_b, n), np.bincount(codes, self.den_b, n)
            values_w = [num_w[c] / den_w[c] if den_w[c] > 0 else None for c in picked]
            values_b = [num_b[c] / den_b[c] if den_b[c] > 0 else None for c in picked]
        else:
            child_w, child_b = self._child_hists(codes, n)
            qw, qb = self._q(child_w[picked]), self._q(child_b[picked])
            values_w = [None if np.isnan(v) else float(v) for v in qw]
            values_b = [None if np.isnan(v) else float(v) for v in qb]
        return [
            Contribution(
                key={d: str(keys.iat[c, j]) for j, d in enumerate(combo)},
                window_value=None if vw is None else float(vw),
                baseline_value=None if vb is None else float(vb),
                share=float(single[c] / self.change),
                window_attempts=int(attempts[c]),
            )
            for c, vw, vb in zip(picked, values_w, values_b, strict=True)
        ]
