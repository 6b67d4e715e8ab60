"""Latency baselines at the window's mix of tasks.

A segment that spans several tasks (a whole tier, a hardware class) mixes
latencies that differ tenfold: a generative reply takes seconds where a photo
tag takes tens of milliseconds. When more of its traffic is of the slow kind
(a device class falling back to the cloud, an evening of chat) its percentiles
rise though no task got slower. So a segment's baseline latency histogram is
rebuilt from its tasks' own histograms, each weighted by that task's share of
the window (direct standardisation): the baseline says how fast the window's
requests would have been answered then.

Pure; works on the histograms of :class:`~analytics.aggregates.Aggregates`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import aggregates
from analytics.aggregates import Aggregates
from analytics.metrics import Grouping, grouping


@dataclass(frozen=True)
class TaskMix:
    """Where each segment id falls among a report's (segment, task) cells."""

    #: segment id -> cell
    cell: pd.Series
    #: cell -> segment of the report
    parent: np.ndarray
    segments: int

    def cells(self, per_id: Aggregates) -> np.ndarray:
        """The latency histograms of every cell (cells x buckets)."""
        codes = self.cell.reindex(per_id.labels).fillna(-1).to_numpy(dtype=np.int64)
        return aggregates.group(per_id, codes, np.arange(len(self.parent))).latency


def task_mix(segments: pd.DataFrame, by: Sequence[str], groups: Grouping) -> TaskMix | None:
    """The cells of a report grouped ``by``; ``None`` where the report is split by task."""
    if "task" in by or not len(segments):
        return None
    cells = grouping(segments, (*by, "task"))
    cell_of_id = cells.code.reindex(segments.index).to_numpy()
    parent = np.empty(len(cells.keys), dtype=np.int64)
    parent[cell_of_id] = groups.code.reindex(segments.index).to_numpy()
    return TaskMix(cells.code, parent, len(groups.keys))


def standardise(
    mix: TaskMix, period: Aggregates, per_id: Aggregates, window_cells: np.ndarray
) -> Aggregates:
    """``period`` (grouped) with each segment's latency histogram at the window's mix of tasks.

    ``per_id`` is the same period per segment id and ``window_cells`` the
    window's :meth:`TaskMix.cells`. Each task present in both the window and the
    period weighs its share of the window among such tasks; the histogram keeps
    the period's count of attempts of those tasks, so its sampling is read as it
    was. A segment with no task in common keeps its own histogram.
    """
    per_task = mix.cells(per_id)
    window_n = window_cells.sum(axis=1)
    period_n = per_task.sum(axis=1)
    common = (window_n > 0) & (period_n > 0)
    weight = np.where(common, window_n, 0.0)
    total_weight = np.zeros(mix.segments)
    np.add.at(total_weight, mix.parent, weight)
    attempts = np.zeros(mix.segments)
    np.add.at(attempts, mix.parent, np.where(common, period_n, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            common, weight / np.where(total_weight > 0, total_weight, 1)[mix.parent], 0
        )
        shape = per_task / np.where(common, period_n, 1.0)[:, None]
    scaled = shape * (share * attempts[mix.parent])[:, None]
    mixed = np.zeros((mix.segments, per_task.shape[1]))
    np.add.at(mixed, mix.parent, np.where(common[:, None], scaled, 0.0))
    latency = np.where((total_weight > 0)[:, None], mixed, period.latency)
    return aggregates.Aggregates(period.labels, period.sums, latency, period.confidence)
