"""Read request rollups for objectives: sums per fleet and task, over spans or time buckets.

The read step of objectives (:mod:`analytics.objectives` computes from what this
returns). Request rollups are joined with ``segments`` for each request's fleet
and task (those of its first attempt); the database adds the counts, and each
group's latency histograms come back as one joined string added in numpy, as
:mod:`analytics.rollups` reads attempt rollups. However many objectives there
are, one query reads every span they need: minutes are labelled with the
narrowest span that holds them, and the slabs add up into nested spans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Float, Select, case, cast, func, select

from analytics.config import Objective
from analytics.durations import parse_duration, to_unix
from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET, parse_joined
from analytics.objectives import (
    BURN_WINDOWS,
    ObjectiveStatus,
    RequestSums,
    budget_series,
    empty_sums,
    judge,
)
from analytics.rollups import hist_concat
from collector.schema import REQUEST_ROLLUPS, SEGMENTS

Group = tuple[str, str]
_SUMS = ("requests", "answered", "quality_count", "quality_sum")


def read_spans(
    conn: Connection, *, tasks: Sequence[str], end: int, spans: Sequence[int]
) -> dict[Group, RequestSums]:
    """Sums per (fleet, task) over each span ``[end - span, end)``; labels are the spans.

    ``end`` is in Unix seconds; groups without requests in the longest span are absent.
    """
    ordered = sorted(set(spans))
    rollups = REQUEST_ROLLUPS
    slab = case(
        *((rollups.c.minute >= end - span, i) for i, span in enumerate(ordered[:-1])),
        else_=len(ordered) - 1,
    ).label("slab")
    query = _summed(conn, slab).where(
        rollups.c.minute >= end - ordered[-1],
        rollups.c.minute < end,
        SEGMENTS.c.task.in_(list(tasks)),
    )
    return {
        group: sums.cumulative()
        for group, sums in _by_group(
            conn.execute(query).all(), ordered, {i: i for i in range(len(ordered))}
        ).items()
    }


def read_buckets(
    conn: Connection, *, task: str, fleet: str | None, start: int, end: int, step: int
) -> RequestSums:
    """Sums of one task (and fleet, or all) per time bucket of ``step`` seconds.

    Labels are the starts of every bucket of ``[start, end)`` (multiples of
    ``step``), buckets without requests included.
    """
    rollups = REQUEST_ROLLUPS
    bucket = ((rollups.c.minute // step) * step).label("slab")
    query = _summed(conn, bucket).where(
        rollups.c.minute >= start, rollups.c.minute < end, SEGMENTS.c.task == task
    )
    if fleet is not None:
        query = query.where(SEGMENTS.c.fleet == fleet)
    labels = list(range(start // step * step, end, step))
    out = empty_sums(labels)
    for sums in _by_group(
        conn.execute(query).all(), labels, {label: i for i, label in enumerate(labels)}
    ).values():
        out = out + sums
    return out


def _summed(conn: Connection, label: Any) -> Select[Any]:
    rollups = REQUEST_ROLLUPS
    return (
        select(
            SEGMENTS.c.fleet,
            SEGMENTS.c.task,
            label,
            *(cast(func.sum(rollups.c[c]), Float) for c in _SUMS),
            hist_concat(conn, rollups.c.latency_hist),
        )
        .select_from(rollups.join(SEGMENTS, rollups.c.segment_id == SEGMENTS.c.id))
        .group_by(SEGMENTS.c.fleet, SEGMENTS.c.task, label)
    )


def _by_group(
    rows: Sequence[Any], labels: Sequence[int], position: Mapping[int, int]
) -> dict[Group, RequestSums]:
    """Rows of (fleet, task, slab, sums, joined histograms) per group; ``position``: slab to row."""
    out: dict[Group, dict[str, np.ndarray]] = {}
    n = len(labels)
    for fleet, task, slab, *values, hist in rows:
        arrays = out.setdefault(
            (fleet, task),
            {
                **{c: np.zeros(n) for c in _SUMS},
                "latency": np.zeros((n, LATENCY_BINS), dtype=np.int64),
            },
        )
        i = position[int(slab)]
        for column, value in zip(_SUMS, values, strict=True):
            arrays[column][i] = float(value or 0.0)
        arrays["latency"][i] = parse_joined(hist, offset=LATENCY_OFFSET, bins=LATENCY_BINS)
    return {
        group: RequestSums(labels=np.asarray(labels, dtype=np.int64), **arrays)
        for group, arrays in out.items()
    }


def objective_report(
    conn: Connection, objectives: Sequence[Objective], *, end: datetime
) -> list[ObjectiveStatus]:
    """Every kind of every objective over its period ending at ``end`` (cut to the minute)."""
    if not objectives:
        return []
    end_s = to_unix(end) // 60 * 60
    periods = {o.name: _seconds(parse_duration(o.period)) for o in objectives}
    spans = sorted({*BURN_WINDOWS.values(), *periods.values()})
    groups = read_spans(conn, tasks=sorted({o.task for o in objectives}), end=end_s, spans=spans)
    out = []
    for objective in objectives:
        sums = empty_sums(spans)
        for (fleet, task), group in groups.items():
            if task == objective.task and objective.fleet in (None, fleet):
                sums = sums + group
        for kind in objective.kinds():
            out.append(judge(objective, kind, sums, period_seconds=periods[objective.name]))
    return out


def objective_series(
    conn: Connection, objective: Objective, kind: str, *, end: datetime, step: int
) -> pd.DataFrame:
    """Budget left and burn rate of one objective kind per ``step`` over its period.

    See :func:`analytics.objectives.budget_series`; ``time`` is a UTC datetime here.
    """
    end_s = to_unix(end) // 60 * 60
    start = end_s - _seconds(parse_duration(objective.period))
    start = start // step * step
    sums = read_buckets(
        conn, task=objective.task, fleet=objective.fleet, start=start, end=end_s, step=step
    )
    frame = budget_series(objective, kind, sums, step=step)
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())
