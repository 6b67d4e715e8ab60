"""Canaries: which version a model version is compared with, on which traffic.

Pure. A version is only ever compared with an earlier version of the same model
and task: the one of those that carried the most traffic before (the previous
dominant version). Both sides are summed over the strata (tier, task, hardware
class, region, node) that both run, the reference reweighted to the canary's mix
of them, so a rollout that starts on faster devices does not pass for a faster
model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics import aggregates
from analytics.aggregates import Aggregates
from analytics.metrics import Grouping
from analytics.version_order import version_key

#: Dimensions on which the two sides of a canary comparison are matched.
STRATA = ("tier", "task", "device_model", "region", "node")


def reference_version(version: str, traffic: Mapping[str, float]) -> str | None:
    """The earlier version with the most ``traffic`` that ``version`` is compared with."""
    mine = version_key(version)
    earlier = [v for v in traffic if v and version_key(v) < mine and traffic[v] > 0]
    if not earlier:
        return None
    return max(earlier, key=lambda v: (traffic[v], version_key(v)))


def shared_totals(
    segments: pd.DataFrame, window: Aggregates, mine: Sequence[int], theirs: Sequence[int]
) -> tuple[Aggregates, Aggregates, int]:
    """Both sides' window aggregates over the strata both run, and how many strata that is.

    ``mine`` and ``theirs`` are segment ids; ``window`` per-segment-id aggregates.
    The reference side is reweighted to the canary's mix of strata (each stratum
    holds the share of the reference that it holds of the canary), scaled to its
    effective sample size, so a version rolled out first to one hardware class is
    not judged by that class's energy or latency.
    """
    rows = aggregates.reindex(window, np.concatenate([np.asarray(mine), np.asarray(theirs)]))
    info = segments.reindex(rows.labels)[list(STRATA)].astype(str)
    stratum = info.apply(tuple, axis=1).to_numpy()
    side = np.array([0] * len(mine) + [1] * len(theirs))
    attempts = rows.column("attempts")
    active = attempts > 0
    ran = [set(stratum[(side == s) & active]) for s in (0, 1)]
    shared = ran[0] & ran[1]
    keep = np.array([s in shared for s in stratum], dtype=bool) & active
    weight = np.ones(len(stratum))
    totals = [attempts[keep & (side == s)].sum() for s in (0, 1)]
    codes, _ = pd.factorize(pd.Series(list(stratum), dtype=object))
    for code in np.unique(codes[keep]):
        here = keep & (codes == code)
        n_mine, n_theirs = attempts[here & (side == 0)].sum(), attempts[here & (side == 1)].sum()
        weight[here & (side == 1)] = (n_mine / totals[0]) * totals[1] / n_theirs
    # Reweighting makes a few attempts stand for many: the reference keeps only its
    # effective size (Kish), so its tests are not more certain than its data.
    theirs_rows = keep & (side == 1)
    w, n = weight[theirs_rows], attempts[theirs_rows]
    if n.sum() > 0:
        effective = (w * n).sum() ** 2 / (w * w * n).sum()
        weight[theirs_rows] *= effective / (w * n).sum()
    out = []
    for s in (0, 1):
        pick = keep & (side == s)
        scale = weight[pick][:, None]
        part = Aggregates(
            labels=rows.labels[pick],
            sums=rows.sums[pick] * scale,
            latency=rows.latency[pick] * scale if s else rows.latency[pick],
            confidence=rows.confidence[pick] * scale if s else rows.confidence[pick],
        )
        out.append(part.total() if len(part) else aggregates.empty([0]))
    return out[0], out[1], len(shared)


def canary_pairs(
    groups: Grouping,
    segments: pd.DataFrame,
    *,
    window_attempts: np.ndarray,
    baseline_attempts: np.ndarray,
    min_attempts: np.ndarray,
) -> list[tuple[int, int]]:
    """(segment, segment of its reference version) pairs of a report split by ``model_version``.

    Segments are siblings when they differ only in ``model_version`` and run the
    same model and task (a segment spanning several models or tasks has no
    canary). Each sibling with enough window attempts is paired with the
    :func:`reference_version` among its earlier siblings that have enough too;
    traffic is counted in the baseline, or in the window when a sibling has none.
    """
    if "model_version" not in groups.by:
        return []
    info = segments.assign(_group=groups.code.reindex(segments.index))
    info = info[info["_group"] >= 0]
    sole = info.groupby("_group")[["model", "task"]].nunique()
    firsts = info.groupby("_group")[["model", "task"]].first()
    others = [d for d in groups.by if d != "model_version"]
    frame = groups.keys.copy()
    frame["_model"] = firsts["model"].reindex(frame.index).fillna("")
    frame["_task"] = firsts["task"].reindex(frame.index).fillna("")
    single = (sole.reindex(frame.index).fillna(0) == 1).all(axis=1)
    frame = frame[single & (window_attempts[frame.index] > 0)]
    pairs: list[tuple[int, int]] = []
    for _, siblings in frame.groupby([*others, "_model", "_task"], sort=False):
        if len(siblings) < 2:
            continue
        index = siblings.index.to_numpy()
        usable = index[window_attempts[index] >= min_attempts[index]]
        versions = {str(siblings.at[i, "model_version"]): int(i) for i in usable}
        before = {v: float(baseline_attempts[i]) for v, i in versions.items()}
        if not any(before.values()):
            before = {v: float(window_attempts[i]) for v, i in versions.items()}
        for version, i in versions.items():
            ref = reference_version(version, before)
            if ref is not None:
                pairs.append((i, versions[ref]))
    return sorted(pairs)
