"""Rollup sums and dense histograms per label (segment id, segment group or time bucket).

:class:`Aggregates` is what the read side computes everything from: rows of the
rollup sum columns plus dense latency and confidence histograms. Rows add up, so
segments group and periods combine with plain array sums.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.histograms import CONFIDENCE_BINS, LATENCY_BINS
from collector.rollup import SUM_COLUMNS

#: Column index of each rollup sum column in :attr:`Aggregates.sums`.
SUM_INDEX = {name: i for i, name in enumerate(SUM_COLUMNS)}


@dataclass(frozen=True)
class Aggregates:
    """Added-up rollups: one row per label.

    ``sums`` holds :data:`collector.rollup.SUM_COLUMNS` as float64 (exact for counts
    below 2**53); ``latency`` and ``confidence`` are dense histograms (see
    :mod:`analytics.histograms`).
    """

    labels: np.ndarray
    sums: np.ndarray
    latency: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def column(self, name: str) -> np.ndarray:
        """One sum column, e.g. ``"errors"``."""
        return self.sums[:, SUM_INDEX[name]]

    def row(self, label: Any) -> Aggregates:
        """The one-row aggregates of ``label`` (zeros when absent)."""
        return reindex(self, np.array([label]))

    def total(self) -> Aggregates:
        """All rows added into one (label 0)."""
        return Aggregates(
            labels=np.array([0]),
            sums=self.sums.sum(axis=0, keepdims=True),
            latency=self.latency.sum(axis=0, keepdims=True),
            confidence=self.confidence.sum(axis=0, keepdims=True),
        )


def empty(labels: Sequence[Any] | np.ndarray = ()) -> Aggregates:
    """Zero aggregates for ``labels``."""
    n = len(labels)
    return Aggregates(
        labels=np.asarray(labels),
        sums=np.zeros((n, len(SUM_COLUMNS))),
        latency=np.zeros((n, LATENCY_BINS), dtype=np.int64),
        confidence=np.zeros((n, CONFIDENCE_BINS), dtype=np.int64),
    )


def reindex(aggs: Aggregates, labels: Sequence[Any] | np.ndarray) -> Aggregates:
    """``aggs`` with exactly ``labels`` as rows, in that order; missing labels are zero."""
    labels = np.asarray(labels)
    out = empty(labels)
    if len(aggs) == 0 or len(labels) == 0:
        return out
    position = {label: i for i, label in enumerate(aggs.labels.tolist())}
    src = np.array([position.get(label, -1) for label in labels.tolist()], dtype=np.int64)
    found = src >= 0
    out.sums[found] = aggs.sums[src[found]]
    out.latency[found] = aggs.latency[src[found]]
    out.confidence[found] = aggs.confidence[src[found]]
    return out


def combine(parts: Iterable[Aggregates]) -> Aggregates:
    """Aggregates of several periods or sources added label by label (labels sorted)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty()
    if len(parts) == 1:
        return parts[0]
    labels = np.unique(np.concatenate([p.labels for p in parts]))
    out = empty(labels)
    for part in parts:
        index = np.searchsorted(labels, part.labels)
        out.sums[index] += part.sums
        out.latency[index] += part.latency
        out.confidence[index] += part.confidence
    return out


def group(aggs: Aggregates, codes: np.ndarray, labels: np.ndarray) -> Aggregates:
    """Rows of ``aggs`` added into groups: row ``i`` goes to group ``codes[i]``.

    ``labels[g]`` names group ``g``; rows with a negative code are left out.
    """
    out = empty(labels)
    keep = codes >= 0
    np.add.at(out.sums, codes[keep], aggs.sums[keep])
    np.add.at(out.latency, codes[keep], aggs.latency[keep])
    np.add.at(out.confidence, codes[keep], aggs.confidence[keep])
    return out


def from_rows(
    labels: Sequence[Any],
    sums: Sequence[Sequence[float]],
    latency: np.ndarray,
    confidence: np.ndarray,
) -> Aggregates:
    """Aggregates from label, sum rows and histogram matrices (as a query returns them)."""
    n = len(labels)
    return Aggregates(
        labels=np.asarray(labels),
        sums=np.asarray(sums, dtype=float).reshape(n, len(SUM_COLUMNS)),
        latency=np.asarray(latency, dtype=np.int64).reshape(n, LATENCY_BINS),
        confidence=np.asarray(confidence, dtype=np.int64).reshape(n, CONFIDENCE_BINS),
    )
