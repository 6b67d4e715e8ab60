"""Read the store: rollups summed in SQL per segment or per time bucket, and device states.

The one place analytics reads the store's tables. Sums are added
by the database; each group's histograms come back as one comma-joined string
and are added by :func:`analytics.histograms.parse_joined`. Whole hours before
the compaction watermark come from ``hourly_rollups`` (see
:mod:`analytics.compaction`); everything else from the minute rollups, so answers
are the same with or without compaction, only faster with it.

Minute rollups of old compacted hours are deleted after
``analytics.minute_rollup_retention_days`` (:mod:`analytics.retention`), up to the
``minute_rollups_floor`` in ``analytics_state``. Before the floor only whole
hours exist, so a period that starts before it is read by whole hours there: its
start (and its end, when that lies before the floor too) moves back to the start
of its hour. Periods of whole hours give the same answers as before the deletion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Float, Table, cast, distinct, func, select
from sqlalchemy.sql.elements import ColumnElement

from analytics import aggregates
from analytics.aggregates import Aggregates
from analytics.histograms import CONFIDENCE_BINS, LATENCY_BINS, LATENCY_OFFSET, parse_joined
from analytics.state import read_state
from collector.rollup import SUM_COLUMNS
from collector.schema import (
    ATTEMPTS,
    DEVICES,
    HOURLY_ROLLUPS,
    ROLLUPS,
    SEGMENT_DIMENSIONS,
    SEGMENTS,
)

HOUR = 3600
#: The ``analytics_state`` name of the hourly compaction watermark.
WATERMARK = "hourly_rollups"
#: The ``analytics_state`` name of the first hour whose minute rollups are all kept.
MINUTE_FLOOR = "minute_rollups_floor"


def read_segments(conn: Connection, *, fleet: str | None = None) -> pd.DataFrame:
    """Every segment (index ``id``, one column per dimension), optionally of one fleet."""
    query = select(SEGMENTS.c.id, *(SEGMENTS.c[d] for d in SEGMENT_DIMENSIONS))
    if fleet is not None:
        query = query.where(SEGMENTS.c.fleet == fleet)
    rows = conn.execute(query.order_by(SEGMENTS.c.id)).all()
    frame = pd.DataFrame(rows, columns=["id", *SEGMENT_DIMENSIONS])
    return frame.set_index("id")


def read_watermark(conn: Connection) -> int | None:
    """The first hour not compacted yet (Unix seconds), or ``None`` before any compaction."""
    return read_state(conn, WATERMARK)


def read_minute_floor(conn: Connection) -> int | None:
    """The first hour whose minute rollups are all kept (Unix seconds); ``None``: all kept."""
    return read_state(conn, MINUTE_FLOOR)


def plan(
    start: int, end: int, watermark: int | None, minute_floor: int | None = None
) -> list[tuple[Table, int, int]]:
    """Which table serves which part of ``[start, end)``: hourly rows for whole compacted hours.

    Before ``minute_floor`` (minute rollups deleted) the period's ends move back to
    the start of their hour, so that part is read by whole hours.
    """
    if end <= start:
        return []
    if minute_floor is not None and watermark is not None and start < minute_floor:
        start = start // HOUR * HOUR
        if end < minute_floor:
            end = end // HOUR * HOUR
        if end <= start:
            return []
    if watermark is None:
        return [(ROLLUPS, start, end)]
    first_hour = -(-start // HOUR) * HOUR
    last_hour = min(end // HOUR * HOUR, watermark)
    if last_hour <= first_hour:
        return [(ROLLUPS, start, end)]
    parts: list[tuple[Table, int, int]] = []
    if start < first_hour:
        parts.append((ROLLUPS, start, first_hour))
    parts.append((HOURLY_ROLLUPS, first_hour, last_hour))
    if last_hour < end:
        parts.append((ROLLUPS, last_hour, end))
    return parts


def read_aggregates(
    conn: Connection,
    *,
    start: int,
    end: int,
    fleet: str | None = None,
    segment_ids: Sequence[int] | None = None,
    shadow: bool = False,
    watermark: int | None = None,
    use_watermark: bool = True,
) -> Aggregates:
    """Rollups over ``[start, end)`` (Unix seconds) added up per segment id.

    ``shadow`` picks served (False) or shadow (True) attempts. ``fleet`` or
    ``segment_ids`` narrow the segments. The watermark is read unless given.
    """
    floor = None
    if use_watermark:
        if watermark is None:
            watermark = read_watermark(conn)
        floor = read_minute_floor(conn)
    parts = []
    for table, lo, hi in plan(start, end, watermark if use_watermark else None, floor):
        time = table.c.hour if table is HOURLY_ROLLUPS else table.c.minute
        parts.append(
            _query(conn, table, table.c.segment_id, time, lo, hi, fleet, segment_ids, shadow)
        )
    return aggregates.combine(parts)


def read_buckets(
    conn: Connection,
    *,
    start: int,
    end: int,
    step: int,
    segment_ids: Sequence[int] | None = None,
    fleet: str | None = None,
    shadow: bool = False,
    key: Mapping[str, str] | None = None,
) -> Aggregates:
    """Rollups over ``[start, end)`` added up per time bucket of ``step`` seconds.

    Labels are bucket starts (multiples of ``step`` since the epoch). Steps that are
    whole hours read compacted hours from ``hourly_rollups``, and so do periods that
    start before the minute floor (where minute rollups are deleted). ``key`` (dimension
    values) narrows the segments in SQL, however many they are.
    """
    floor = read_minute_floor(conn)
    watermark: int | None = None
    if step % HOUR == 0:
        watermark = read_watermark(conn)
    elif floor is not None and start < floor:
        # Shorter steps read hourly rows only where no minute rows are left.
        watermark = floor
    parts = []
    for table, lo, hi in plan(start, end, watermark, floor):
        time = table.c.hour if table is HOURLY_ROLLUPS else table.c.minute
        label = (time // step) * step if step > 60 or table is HOURLY_ROLLUPS else time
        parts.append(_query(conn, table, label, time, lo, hi, fleet, segment_ids, shadow, key))
    return aggregates.combine(parts)


def read_segment_hours(
    conn: Connection,
    *,
    start: int,
    end: int,
    columns: Sequence[str],
    fleet: str | None = None,
) -> pd.DataFrame:
    """Sums of ``columns`` over ``[start, end)`` per segment, hour and shadow flag.

    Columns ``segment_id``, ``hour`` (Unix seconds, the start of the hour),
    ``shadow`` and the sums, served and shadow attempts alike; no histograms.
    """
    watermark = read_watermark(conn)
    floor = read_minute_floor(conn)
    frames = []
    for table, lo, hi in plan(start, end, watermark, floor):
        time = table.c.hour if table is HOURLY_ROLLUPS else table.c.minute
        hour = ((time // HOUR) * HOUR).label("hour")
        query = (
            select(
                table.c.segment_id,
                hour,
                table.c.shadow,
                *(cast(func.sum(table.c[c]), Float).label(c) for c in columns),
            )
            .where(time >= lo, time < hi, *segment_filters(table.c.segment_id, fleet=fleet))
            .group_by(table.c.segment_id, hour, table.c.shadow)
        )
        frames.append(
            pd.DataFrame(
                conn.execute(query).all(), columns=["segment_id", "hour", "shadow", *columns]
            )
        )
    names = ["segment_id", "hour", "shadow", *columns]
    if not frames:
        return pd.DataFrame(columns=names)
    # A period split between hourly and minute rows can meet in one hour: add those up.
    frame = pd.concat(frames, ignore_index=True)
    frame["shadow"] = frame["shadow"].astype(bool)
    return frame.groupby(["segment_id", "hour", "shadow"], as_index=False)[list(columns)].sum()


def hist_concat(conn: Connection, column: Any) -> ColumnElement[Any]:
    """A group's stored histograms joined by commas for :func:`parse_joined`, empty ones out."""
    value = func.nullif(column, "{}")
    if conn.dialect.name == "postgresql":
        return func.string_agg(value, ",")
    return func.group_concat(value, ",")


def _query(
    conn: Connection,
    table: Table,
    label: Any,
    time: Any,
    lo: int,
    hi: int,
    fleet: str | None,
    segment_ids: Sequence[int] | None,
    shadow: bool,
    key: Mapping[str, str] | None = None,
) -> Aggregates:
    label = label.label("label")
    query = (
        select(
            label,
            *(cast(func.sum(table.c[c]), Float) for c in SUM_COLUMNS),
            hist_concat(conn, table.c.latency_hist),
            hist_concat(conn, table.c.confidence_hist),
        )
        .where(time >= lo, time < hi, table.c.shadow == shadow)
        .group_by(label)
        .order_by(label)
    )
    query = query.where(
        *segment_filters(table.c.segment_id, fleet=fleet, segment_ids=segment_ids, key=key)
    )
    return to_aggregates(conn.execute(query).all())


def segment_filters(
    segment_id: ColumnElement[int],
    *,
    fleet: str | None = None,
    segment_ids: Sequence[int] | None = None,
    key: Mapping[str, str] | None = None,
) -> list[ColumnElement[bool]]:
    """Conditions keeping rows of ``segment_id`` in the segments asked for (none: every one).

    ``segment_ids`` lists them; ``fleet`` and ``key`` (dimension values) select
    them from ``segments``.
    """
    conditions: list[ColumnElement[bool]] = []
    if segment_ids is not None:
        conditions.append(segment_id.in_(list(segment_ids)))
    if fleet is not None:
        conditions.append(segment_id.in_(select(SEGMENTS.c.id).where(SEGMENTS.c.fleet == fleet)))
    if key:
        matching = select(SEGMENTS.c.id).where(*(SEGMENTS.c[d] == v for d, v in key.items()))
        conditions.append(segment_id.in_(matching))
    return conditions


def to_aggregates(rows: Sequence[Any]) -> Aggregates:
    """Rows of (label, the sum columns, joined latency, joined confidence) as aggregates."""
    n = len(rows)
    width = len(SUM_COLUMNS)
    labels = np.array([int(r[0]) for r in rows], dtype=np.int64)
    sums = np.array([r[1 : 1 + width] for r in rows], dtype=float).reshape(n, width)
    latency = np.zeros((n, LATENCY_BINS), dtype=np.int64)
    confidence = np.zeros((n, CONFIDENCE_BINS), dtype=np.int64)
    for i, row in enumerate(rows):
        latency[i] = parse_joined(row[1 + width], offset=LATENCY_OFFSET, bins=LATENCY_BINS)
        confidence[i] = parse_joined(row[2 + width], offset=0, bins=CONFIDENCE_BINS)
    return Aggregates(
        labels=labels, sums=np.nan_to_num(sums), latency=latency, confidence=confidence
    )


def read_device_states(
    conn: Connection, *, fleet: str | None = None, model: str | None = None
) -> pd.DataFrame:
    """The last known state of every device (the ``devices`` table) as a data frame."""
    query = select(DEVICES)
    if fleet is not None:
        query = query.where(DEVICES.c.fleet == fleet)
    if model is not None:
        query = query.where(DEVICES.c.model == model)
    rows = conn.execute(query).all()
    return pd.DataFrame(rows, columns=[c.name for c in DEVICES.columns])


def read_devices_per_bucket(
    conn: Connection, *, fleet: str, model: str, start: int, end: int, step: int
) -> pd.DataFrame:
    """Distinct devices per time bucket and model version, from raw attempts over ``[start, end)``.

    Columns ``bucket`` (Unix seconds, a multiple of ``step``), ``version`` and ``devices``.
    """
    bucket = (ATTEMPTS.c.start_time_unix_nano // (step * 1_000_000_000)) * step
    query = (
        select(
            bucket.label("bucket"),
            ATTEMPTS.c.model_version,
            func.count(distinct(ATTEMPTS.c.device_id)),
        )
        .where(
            ATTEMPTS.c.fleet == fleet,
            ATTEMPTS.c.model == model,
            ATTEMPTS.c.start_time_unix_nano >= start * 1_000_000_000,
            ATTEMPTS.c.start_time_unix_nano < end * 1_000_000_000,
            ATTEMPTS.c.shadow.is_(False),
            ATTEMPTS.c.device_id.is_not(None),
        )
        .group_by(bucket, ATTEMPTS.c.model_version)
    )
    return pd.DataFrame(
        [(int(b), str(v or ""), int(n)) for b, v, n in conn.execute(query)],
        columns=["bucket", "version", "devices"],
    )
