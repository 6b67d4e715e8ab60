"""Read request rollups for objectives: sums per fleet and task, over spans or time buckets.

The read step of objectives (:mod:`analytics.objectives` computes from what this
returns). Request rollups are joined with ``segments`` for each request's fleet
and task (those of its first attempt); the database adds the counts, and each
group's latency histograms come back as one joined string added in numpy, as
:mod:`analytics.rollups` reads attempt rollups. However many objectives there
are, one query per table reads every span they need: rows are labelled with the
narrowest span that holds them, and the slabs add up into nested spans. Whole
hours before the compaction watermark come from ``hourly_request_rollups``
(:mod:`analytics.request_compaction`), except an hour that a span's start cuts;
the rest from the minute rows, so answers are the same with or without
compaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Float, Select, Table, case, cast, func, select

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
from analytics.request_compaction import in_ranges, read_watermark
from analytics.rollups import HOUR, hist_concat
from collector.schema import HOURLY_REQUEST_ROLLUPS, REQUEST_ROLLUPS, SEGMENTS

Group = tuple[str, str]
_SUMS = ("requests", "answered", "quality_count", "quality_sum")


def split_period(
    start: int, end: int, *, edges: Sequence[int], watermark: int | None
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The parts of ``[start, end)`` read from minute rows, and those read from hourly rows.

    Hourly rows serve whole hours before ``watermark`` that no edge (a span's
    start, where labels change) cuts; both lists are of half-open ranges.
    """
    if watermark is None:
        return [(start, end)], []
    hours: list[tuple[int, int]] = []
    hour = -(-start // HOUR) * HOUR
    stop = min(end, watermark) // HOUR * HOUR
    while hour + HOUR <= stop:
        if not any(hour < edge < hour + HOUR for edge in edges):
            if hours and hours[-1][1] == hour:
                hours[-1] = (hours[-1][0], hour + HOUR)
            else:
                hours.append((hour, hour + HOUR))
        hour += HOUR
    minutes = []
    at = start
    for lo, hi in hours:
        if at < lo:
            minutes.append((at, lo))
        at = hi
    if at < end:
        minutes.append((at, end))
    return minutes, hours


def read_spans(
    conn: Connection, *, tasks: Sequence[str], end: int, spans: Sequence[int]
) -> dict[Group, RequestSums]:
    """Sums per (fleet, task) over each span ``[end - span, end)``; labels are the spans.

    ``end`` is in Unix seconds; groups without requests in the longest span are absent.
    """
    ordered = sorted(set(spans))
    minutes, hours = split_period(
        end - ordered[-1],
        end,
        edges=[end - span for span in ordered],
        watermark=read_watermark(conn),
    )
    position = {i: i for i in range(len(ordered))}
    out: dict[Group, RequestSums] = {}
    for table, time, ranges in (
        (REQUEST_ROLLUPS, REQUEST_ROLLUPS.c.minute, minutes),
        (HOURLY_REQUEST_ROLLUPS, HOURLY_REQUEST_ROLLUPS.c.hour, hours),
    ):
        if not ranges:
            continue
        slab = case(
            *((time >= end - span, i) for i, span in enumerate(ordered[:-1])),
            else_=len(ordered) - 1,
        ).label("slab")
        query = _summed(conn, table, slab).where(
            in_ranges(time, ranges), SEGMENTS.c.task.in_(list(tasks))
        )
        _add(out, _by_group(conn.execute(query).all(), ordered, position))
    return {group: sums.cumulative() for group, sums in out.items()}


def read_buckets(
    conn: Connection, *, task: str, fleet: str | None, start: int, end: int, step: int
) -> RequestSums:
    """Sums of one task (and fleet, or all) per time bucket of ``step`` seconds.

    Labels are the starts of every bucket of ``[start, end)`` (multiples of
    ``step``), buckets without requests included. Steps of whole hours read
    folded hours from the hourly rows.
    """
    watermark = read_watermark(conn) if step % HOUR == 0 else None
    minutes, hours = split_period(start, end, edges=(), watermark=watermark)
    labels = list(range(start // step * step, end, step))
    position = {label: i for i, label in enumerate(labels)}
    out = empty_sums(labels)
    for table, time, ranges in (
        (REQUEST_ROLLUPS, REQUEST_ROLLUPS.c.minute, minutes),
        (HOURLY_REQUEST_ROLLUPS, HOURLY_REQUEST_ROLLUPS.c.hour, hours),
    ):
        if not ranges:
            continue
        bucket = ((time // step) * step).label("slab")
        query = _summed(conn, table, bucket).where(in_ranges(time, ranges), SEGMENTS.c.task == task)
        if fleet is not None:
            query = query.where(SEGMENTS.c.fleet == fleet)
        for sums in _by_group(conn.execute(query).all(), labels, position).values():
            out = out + sums
    return out


def _summed(conn: Connection, table: Table, label: Any) -> Select[Any]:
    return (
        select(
            SEGMENTS.c.fleet,
            SEGMENTS.c.task,
            label,
            *(cast(func.sum(table.c[c]), Float) for c in _SUMS),
            hist_concat(conn, table.c.latency_hist),
        )
        .select_from(table.join(SEGMENTS, table.c.segment_id == SEGMENTS.c.id))
        .group_by(SEGMENTS.c.fleet, SEGMENTS.c.task, label)
    )


def _add(total: dict[Group, RequestSums], more: Mapping[Group, RequestSums]) -> None:
    for group, sums in more.items():
        total[group] = total[group] + sums if group in total else sums


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
