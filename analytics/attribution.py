"""Which sub-segments a segment's change comes from, named only when the data says so.

Pure. When a segment got worse, its attempts are split by each dimension the
report did not use (``device_model``, ``node``, ``task``, ...). A sub-segment is
named only when its own change differs significantly from its siblings' (a
one-sided test of its change against the change of the rest, Bonferroni-adjusted
over every sub-segment tried) and by a margin that matters (at least half the
parent's change). When no sub-segment stands out, the change is shared evenly
and the finding says so (``across every task``) instead of naming the largest
part. A named sub-segment is split once more (``device_model=galaxy-a14`` into
its model versions) when one of its own parts stands out again.

A sub-segment's share is its part of the worsening: its weight in the window
(attempts, or values for a mean) times its own change, over the sum of those of
every sub-segment that got worse, so shares never pass 100%.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analytics import aggregates
from analytics.aggregates import Aggregates, reindex
from analytics.estimates import MEANS, PERCENTILES, RATES, Estimate, estimate

#: A sub-segment's change must differ from its siblings' by this share of the parent's.
_MARGIN = 0.5
#: Fewest window observations (attempts, values, or attempts in the tail) a sub-segment needs.
_MIN_OBSERVATIONS = 20


@dataclass(frozen=True)
class Contribution:
    """One sub-segment's part in a finding's change.

    ``key`` holds only the dimensions added to the parent segment's key;
    ``share`` is the fraction of the parent's worsening it carries (at most 1).
    """

    key: dict[str, str]
    window_value: float | None
    baseline_value: float | None
    share: float
    window_attempts: int


@dataclass(frozen=True)
class Explained:
    """The named sub-segments of a change, or the dimensions it spreads evenly across."""

    parts: tuple[Contribution, ...] = ()
    across: tuple[str, ...] = ()


def _estimate(metric: str, aggs: Aggregates) -> Estimate:
    return estimate(metric, aggs, local_requests=None)


def _observations(metric: str, est: Estimate) -> np.ndarray:
    if metric in PERCENTILES:
        return est.count * (1 - PERCENTILES[metric])
    return est.count


def _minus(parent: Aggregates, child: Aggregates) -> Aggregates:
    """Every row of ``child`` taken from the one-row ``parent``: the rest of each child."""
    return Aggregates(
        labels=child.labels,
        sums=parent.sums - child.sums,
        latency=parent.latency - child.latency,
        confidence=parent.confidence - child.confidence,
    )


def _fill(rows: Estimate, parent: Estimate, where: np.ndarray) -> Estimate:
    """``rows`` with the one-row ``parent`` estimate wherever ``where`` holds."""
    return Estimate(
        value=np.where(where, parent.value[0], rows.value),
        scale=np.where(where, parent.scale[0], rows.scale),
        variance=np.where(where, parent.variance[0], rows.variance),
        count=np.where(where, parent.count[0], rows.count),
    )


@dataclass(frozen=True)
class _Split:
    """One dimension's sub-segments, their changes and which of them stand out."""

    dimension: str
    values: list[str]
    candidate: np.ndarray
    p_value: np.ndarray
    share: np.ndarray
    window_value: np.ndarray
    baseline_value: np.ndarray
    attempts: np.ndarray
    valid: int


def _split(
    metric: str,
    dim: str,
    info: pd.DataFrame,
    window: Aggregates,
    baseline: Aggregates,
    *,
    worse: int,
    parent_change: float,
) -> _Split | None:
    codes, values = pd.factorize(info[dim].astype(str), sort=True)
    labels = np.arange(len(values))
    cw = aggregates.group(window, codes, labels)
    cb = aggregates.group(baseline, codes, labels)
    if (cw.column("attempts") > 0).sum() < 2:
        return None
    rw, rb = _minus(window.total(), cw), _minus(baseline.total(), cb)
    ew, eb, erw, erb = (_estimate(metric, a) for a in (cw, cb, rw, rb))
    # A sub-segment new in the window (a version rolled out) took over from the parent:
    # the parent's baseline is the level it is judged against.
    parent = _estimate(metric, baseline.total())
    new = _observations(metric, eb) < _MIN_OBSERVATIONS
    eb = _fill(eb, parent, new)
    erb = _fill(erb, parent, _observations(metric, erb) < _MIN_OBSERVATIONS)
    valid = (
        (_observations(metric, ew) >= _MIN_OBSERVATIONS)
        & (_observations(metric, erw) >= _MIN_OBSERVATIONS)
        & (_observations(metric, parent)[0] >= _MIN_OBSERVATIONS)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        change = worse * (ew.scale - eb.scale)
        rest = worse * (erw.scale - erb.scale)
        z = (change - rest) / np.sqrt(ew.variance + eb.variance + erw.variance + erb.variance)
        p = np.where(np.isfinite(z), stats.norm.sf(z), 1.0)
    weight = ew.count / max(float(np.nansum(ew.count)), 1.0)
    carried = np.where(np.isfinite(change), np.maximum(weight * change, 0.0), 0.0)
    total = carried.sum()
    share = carried / total if total > 0 else np.zeros_like(carried)
    return _Split(
        dimension=dim,
        values=[str(v) for v in values],
        candidate=valid & (change > 0) & (change - rest >= _MARGIN * parent_change),
        p_value=p,
        share=share,
        window_value=ew.value,
        baseline_value=eb.value,
        attempts=cw.column("attempts"),
        valid=int(valid.sum()),
    )


def _best(
    metric: str,
    info: pd.DataFrame,
    window: Aggregates,
    baseline: Aggregates,
    dimensions: Sequence[str],
    *,
    worse: int,
    alpha: float,
) -> tuple[tuple[_Split, np.ndarray] | None, list[_Split]]:
    """The split whose stand-out sub-segments carry most of the change, and every split tried."""
    parent_w, parent_b = _estimate(metric, window.total()), _estimate(metric, baseline.total())
    parent_change = float(worse * (parent_w.scale[0] - parent_b.scale[0]))
    if not parent_change > 0:
        return None, []
    splits = []
    for dim in dimensions:
        if info[dim].astype(str).nunique() < 2:
            continue
        found = _split(
            metric, dim, info, window, baseline, worse=worse, parent_change=parent_change
        )
        if found is not None:
            splits.append(found)
    # Bonferroni over every sub-segment tried in every dimension.
    level = alpha / max(sum(s.valid for s in splits), 1)
    best: tuple[tuple[float, float], _Split, np.ndarray] | None = None
    for s in splits:
        named = s.candidate & (s.p_value < level)
        if not named.any():
            continue
        score = (float(s.share[named].sum()), -float(s.attempts[named].sum()))
        if best is None or score > best[0]:
            best = (score, s, named)
    return (None, splits) if best is None else ((best[1], best[2]), splits)


def explain_change(
    metric: str,
    *,
    window: Aggregates,
    baseline: Aggregates,
    segments: pd.DataFrame,
    dimensions: Sequence[str],
    worse: int,
    alpha: float = 0.01,
    max_segments: int = 3,
    max_depth: int = 2,
) -> Explained:
    """The sub-segments that explain a change of ``metric``, or the dimensions it spreads across.

    ``window`` and ``baseline`` are per-segment-id aggregates of the parent
    segment; ``segments`` maps those ids to dimension values; ``dimensions`` are
    the ones the parent may be split by. ``worse`` is +1 when a rise is worse, -1
    when a fall is. ``alpha`` is the family-wise error rate of naming a
    sub-segment that does not stand out.
    """
    if metric not in RATES and metric not in MEANS and metric not in PERCENTILES:
        return Explained()
    if metric == "cloud_escalation_rate":
        return Explained()
    ids = np.union1d(window.labels, baseline.labels)
    w, b = reindex(window, ids), reindex(baseline, ids)
    info = segments.reindex(ids)
    active = info[w.column("attempts") > 0]
    dims = [d for d in dimensions if active[d].astype(str).nunique() > 1]
    found, splits = _best(metric, info, w, b, dims, worse=worse, alpha=alpha)
    if found is None:
        across = tuple(s.dimension for s in splits if s.valid >= 2)
        return Explained(across=across)
    best, named = found
    order = np.argsort(-best.share, kind="stable")
    picked = [int(c) for c in order if named[c]][:max_segments]
    parts = []
    for c in picked:
        key = {best.dimension: best.values[c]}
        part = Contribution(
            key=key,
            window_value=_value(best.window_value[c]),
            baseline_value=_value(best.baseline_value[c]),
            share=float(best.share[c]),
            window_attempts=int(best.attempts[c]),
        )
        if max_depth > 1 and len(picked) == 1:
            part = _refine(metric, part, info, w, b, dims, worse=worse, alpha=alpha)
        parts.append(part)
    return Explained(parts=tuple(parts))


def _refine(
    metric: str,
    part: Contribution,
    info: pd.DataFrame,
    window: Aggregates,
    baseline: Aggregates,
    dims: Sequence[str],
    *,
    worse: int,
    alpha: float,
) -> Contribution:
    """A named sub-segment narrowed by one more dimension when one of its parts stands out."""
    ((dim, value),) = part.key.items()
    inside = (info[dim].astype(str) == value).to_numpy()
    ids = window.labels[inside]
    sub_info = info[inside]
    rest = [d for d in dims if d != dim]
    found, _ = _best(
        metric,
        sub_info,
        reindex(window, ids),
        reindex(baseline, ids),
        rest,
        worse=worse,
        alpha=alpha,
    )
    if found is None or int(found[1].sum()) != 1:
        return part
    best = found[0]
    c = int(np.nonzero(found[1])[0][0])
    return Contribution(
        key={dim: value, best.dimension: best.values[c]},
        window_value=_value(best.window_value[c]),
        baseline_value=_value(best.baseline_value[c]),
        share=float(part.share * best.share[c]),
        window_attempts=int(best.attempts[c]),
    )


def _value(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
