"""Requests as the user sees them: request rollups read, grouped and turned into metrics.

The collector assembles each request (one trace) from its attempts and keeps
per-minute ``request_rollups`` in the segment of the request's first attempt
(:mod:`collector.assemble`). This module reads them like :mod:`analytics.rollups`
reads attempt rollups: sums added up by the database per segment id or per time
bucket, each group's histograms joined into one string and added in numpy. The
end-to-end latency histogram is on the attempts' fixed buckets, so its quantiles
are within 2% too. Request rollups are minute rows only (nothing compacts them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Float, cast, func, select

from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET, LATENCY_VALUES, parse_joined
from analytics.histograms import quantiles as histogram_quantiles
from analytics.rollups import hist_concat, segment_filters
from analytics.times import TimeRange
from collector.request_state import REQUEST_SUM_COLUMNS
from collector.schema import REQUEST_ROLLUPS, SEGMENTS

#: Column index of each request rollup sum column in :attr:`RequestAggregates.sums`.
REQUEST_SUM_INDEX = {name: i for i, name in enumerate(REQUEST_SUM_COLUMNS)}
TIERS = ("device", "edge", "cloud")


@dataclass(frozen=True)
class RequestAggregates:
    """Added-up request rollups: one row per label (segment id, group or time bucket).

    ``sums`` holds :data:`collector.request_state.REQUEST_SUM_COLUMNS` as float64;
    ``latency`` the dense end-to-end latency histograms of answered requests.
    """

    labels: np.ndarray
    sums: np.ndarray
    latency: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def column(self, name: str) -> np.ndarray:
        """One sum column, e.g. ``"answered"``."""
        return self.sums[:, REQUEST_SUM_INDEX[name]]


def _read(
    conn: Connection,
    label: Any,
    *,
    start: int,
    end: int,
    fleet: str | None,
    segment_ids: Sequence[int] | None,
    key: Mapping[str, str] | None,
) -> RequestAggregates:
    table = REQUEST_ROLLUPS
    label = label.label("label")
    query = (
        select(
            label,
            *(cast(func.sum(table.c[c]), Float) for c in REQUEST_SUM_COLUMNS),
            hist_concat(conn, table.c.latency_hist),
        )
        .where(table.c.minute >= start, table.c.minute < end)
        .group_by(label)
        .order_by(label)
    )
    query = query.where(
        *segment_filters(table.c.segment_id, fleet=fleet, segment_ids=segment_ids, key=key)
    )
    rows = conn.execute(query).all()
    width = len(REQUEST_SUM_COLUMNS)
    latency = np.zeros((len(rows), LATENCY_BINS), dtype=np.int64)
    for i, row in enumerate(rows):
        latency[i] = parse_joined(row[1 + width], offset=LATENCY_OFFSET, bins=LATENCY_BINS)
    return RequestAggregates(
        labels=np.array([int(r[0]) for r in rows], dtype=np.int64),
        sums=np.nan_to_num(
            np.array([r[1 : 1 + width] for r in rows], dtype=float).reshape(len(rows), width)
        ),
        latency=latency,
    )


def read_request_aggregates(
    conn: Connection,
    *,
    start: int,
    end: int,
    fleet: str | None = None,
    segment_ids: Sequence[int] | None = None,
    key: Mapping[str, str] | None = None,
) -> RequestAggregates:
    """Request rollups of requests that started in ``[start, end)`` (Unix seconds), per segment id.

    ``fleet``, ``segment_ids`` or ``key`` (dimension values of the first attempt's
    segment) narrow the segments.
    """
    return _read(
        conn,
        REQUEST_ROLLUPS.c.segment_id,
        start=start,
        end=end,
        fleet=fleet,
        segment_ids=segment_ids,
        key=key,
    )


def read_request_buckets(
    conn: Connection,
    *,
    start: int,
    end: int,
    step: int,
    fleet: str | None = None,
    segment_ids: Sequence[int] | None = None,
    key: Mapping[str, str] | None = None,
) -> RequestAggregates:
    """Request rollups over ``[start, end)`` added up per time bucket of ``step`` seconds.

    Labels are bucket starts (multiples of ``step`` since the epoch).
    """
    minute = REQUEST_ROLLUPS.c.minute
    label = (minute // step) * step if step > 60 else minute
    return _read(conn, label, start=start, end=end, fleet=fleet, segment_ids=segment_ids, key=key)


@dataclass(frozen=True)
class RequestGroup:
    """The requests of one group: counts, shares and end-to-end figures.

    Shares are of all the group's requests (``None`` without requests); latency
    quantiles and mean are end to end, first attempt's start to the served
    attempt's end, over answered requests (``None`` without any); quality is the
    served attempt's where it was known.
    """

    key: dict[str, str]
    requests: int
    answered: int
    failed: int
    escalated: int
    served_device: int
    served_edge: int
    served_cloud: int
    answered_share: float | None
    failed_share: float | None
    cloud_escalation_rate: float | None
    served_device_share: float | None
    served_edge_share: float | None
    served_cloud_share: float | None
    attempts_per_request: float | None
    tiers_per_request: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    latency_mean_ms: float | None
    quality_mean: float | None
    input_tokens: int
    output_tokens: int


def _share(part: float, whole: float) -> float | None:
    return float(part / whole) if whole > 0 else None


def request_group(key: dict[str, str], sums: np.ndarray, latency: np.ndarray) -> RequestGroup:
    """The metrics of one group from its summed row and dense latency histogram."""
    value = {name: float(sums[i]) for name, i in REQUEST_SUM_INDEX.items()}
    requests, answered = value["requests"], value["answered"]
    p50, p95, p99 = (
        None if np.isnan(q) else float(q)
        for q in histogram_quantiles(latency, (0.5, 0.95, 0.99), LATENCY_VALUES)[0]
    )
    return RequestGroup(
        key=key,
        requests=round(requests),
        answered=round(answered),
        failed=round(value["failed"]),
        escalated=round(value["escalated"]),
        served_device=round(value["served_device"]),
        served_edge=round(value["served_edge"]),
        served_cloud=round(value["served_cloud"]),
        answered_share=_share(answered, requests),
        failed_share=_share(value["failed"], requests),
        cloud_escalation_rate=_share(value["escalated"], requests),
        served_device_share=_share(value["served_device"], requests),
        served_edge_share=_share(value["served_edge"], requests),
        served_cloud_share=_share(value["served_cloud"], requests),
        attempts_per_request=_share(value["attempts_sum"], requests),
        tiers_per_request=_share(value["tiers_sum"], requests),
        latency_p50_ms=p50,
        latency_p95_ms=p95,
        latency_p99_ms=p99,
        latency_mean_ms=_share(value["latency_ms_sum"], answered),
        quality_mean=_share(value["quality_sum"], value["quality_count"]),
        input_tokens=round(value["input_tokens_sum"]),
        output_tokens=round(value["output_tokens_sum"]),
    )


@dataclass(frozen=True)
class RequestReport:
    """The requests that started in a window, per group of their first attempt's dimensions."""

    window: TimeRange
    by: list[str]
    groups: list[RequestGroup]


def request_report(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    by: Sequence[str],
    key: Mapping[str, str] | None = None,
) -> RequestReport:
    """Requests that started in ``[start, end)``, grouped ``by`` dimensions of their first attempt.

    The database adds the rows up per group; ``key`` (dimension values, the fleet
    among them) narrows the segments. Groups come in order of their values.
    """
    table = REQUEST_ROLLUPS
    dims = [SEGMENTS.c[d] for d in by]
    query = (
        select(
            *dims,
            *(cast(func.sum(table.c[c]), Float) for c in REQUEST_SUM_COLUMNS),
            hist_concat(conn, table.c.latency_hist),
        )
        .join(SEGMENTS, SEGMENTS.c.id == table.c.segment_id)
        .where(
            table.c.minute >= int(start.timestamp()),
            table.c.minute < int(end.timestamp()),
            *(SEGMENTS.c[d] == v for d, v in (key or {}).items()),
        )
        .group_by(*dims)
        .order_by(*dims)
    )
    groups = []
    width = len(REQUEST_SUM_COLUMNS)
    for row in conn.execute(query):
        if not row[len(by)]:
            # No requests: what an empty period gives when nothing is grouped.
            continue
        values = row[: len(by)]
        sums = np.nan_to_num(np.array(row[len(by) : len(by) + width], dtype=float))
        latency = parse_joined(row[len(by) + width], offset=LATENCY_OFFSET, bins=LATENCY_BINS)
        groups.append(
            request_group(dict(zip(by, map(str, values), strict=True)), sums, latency[None, :])
        )
    return RequestReport(window=TimeRange(start, end), by=list(by), groups=groups)
