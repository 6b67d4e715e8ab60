"""Fold closed hours of request rollups into ``hourly_request_rollups``, so objectives read less.

Each pass folds the hours that closed since the last one (those with minute
rows from the ``hourly_request_rollups`` watermark in ``analytics_state`` up to
the last closed hour), and again every hour the assembler noted in
``request_late_hours`` because it changed that hour's rows after it had ended (a
late attempt moving its request). An hour is folded by replacing its hourly rows
with its minute rows added up, a few hours per transaction; a note is deleted in
the transaction that folds its hour, and only at the version the pass read, so a
note made meanwhile is kept for the next pass. Then the watermark moves to the
first hour not closed. Readers take whole hours before the watermark from the
hourly rows (:mod:`analytics.objective_sums`); a late change to a folded hour is
read from there after the next pass.

A pass reads the minute rows of new and noted hours only, so its cost follows
what changed, not the store. Hourly rows outlive the minute rows retention
deletes until their own horizon, the same number of days
(:func:`expire_hourly_request_rollups`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, Engine, and_, delete, false, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from analytics.compaction import CHUNK_HOURS, closed_before
from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET, parse_joined, sparse
from analytics.rollups import HOUR, hist_concat
from analytics.state import raise_state, read_state
from collector import buckets
from collector.db import WRITE
from collector.retention import BATCH, SECONDS_PER_DAY, delete_in_slices
from collector.schema import (
    HOURLY_REQUEST_ROLLUPS,
    REQUEST_LATE_HOURS,
    REQUEST_ROLLUPS,
)

#: The ``analytics_state`` name of the watermark: hours before it are folded.
WATERMARK = "hourly_request_rollups"
#: The added-up columns (all but the keys and the histogram).
SUMS = tuple(
    c.name
    for c in REQUEST_ROLLUPS.columns
    if c.name not in ("segment_id", "minute", "latency_hist")
)
_FLOATS = frozenset(c for c in SUMS if c in ("latency_ms_sum", "quality_sum", "quality_sq_sum"))


def read_watermark(conn: Connection) -> int | None:
    """The first hour of request rollups not folded (Unix seconds); ``None`` before any pass."""
    return read_state(conn, WATERMARK)


def compact_requests(engine: Engine, *, now: int, grace_seconds: int = 300) -> int:
    """One pass at ``now`` (Unix seconds); returns how many hours it folded."""
    limit = closed_before(now, grace_seconds)
    with engine.connect() as conn:
        stored = read_watermark(conn)
        watermark = stored
        if watermark is None:
            first = conn.execute(select(func.min(REQUEST_ROLLUPS.c.minute))).scalar()
            watermark = limit if first is None else min(int(first) // HOUR * HOUR, limit)
        notes = {
            int(h): int(v)
            for h, v in conn.execute(
                select(REQUEST_LATE_HOURS.c.hour, REQUEST_LATE_HOURS.c.version).where(
                    REQUEST_LATE_HOURS.c.hour < limit
                )
            )
        }
        # Only hours with minute rows are new: a store idle for months costs nothing.
        hour = (REQUEST_ROLLUPS.c.minute // HOUR) * HOUR
        fresh = [
            int(h)
            for (h,) in conn.execute(
                select(hour)
                .where(REQUEST_ROLLUPS.c.minute >= watermark, REQUEST_ROLLUPS.c.minute < limit)
                .group_by(hour)
            )
        ]
    hours = sorted({*fresh, *notes})
    for i in range(0, len(hours), CHUNK_HOURS):
        chunk = hours[i : i + CHUNK_HOURS]
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                _rewrite(conn, chunk)
                seen = [(h, notes[h]) for h in chunk if h in notes]
                if seen:
                    conn.execute(
                        delete(REQUEST_LATE_HOURS).where(
                            or_(
                                *(
                                    and_(
                                        REQUEST_LATE_HOURS.c.hour == h,
                                        REQUEST_LATE_HOURS.c.version == v,
                                    )
                                    for h, v in seen
                                )
                            )
                        )
                    )
    if stored is None or limit > watermark:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                raise_state(conn, WATERMARK, max(limit, watermark))
    return len(hours)


def expire_hourly_request_rollups(
    engine: Engine, *, now: int, days: int, batch: int = BATCH
) -> int:
    """Delete hourly request rollups of hours that ended more than ``days`` before ``now``."""
    if days <= 0:
        return 0
    cutoff = now - days * SECONDS_PER_DAY
    table = HOURLY_REQUEST_ROLLUPS
    return delete_in_slices(engine, table, table.c.hour + HOUR <= cutoff, batch=batch)


def _rewrite(conn: Connection, hours: Sequence[int]) -> None:
    """Replace the hourly rows of ``hours`` with their minute rows added up."""
    conn.execute(delete(HOURLY_REQUEST_ROLLUPS).where(HOURLY_REQUEST_ROLLUPS.c.hour.in_(hours)))
    rollups = REQUEST_ROLLUPS
    hour = ((rollups.c.minute // HOUR) * HOUR).label("hour")
    query = (
        select(
            rollups.c.segment_id,
            hour,
            *(func.sum(rollups.c[c]) for c in SUMS),
            hist_concat(conn, rollups.c.latency_hist),
        )
        .where(in_ranges(rollups.c.minute, [(h, h + HOUR) for h in hours]))
        .group_by(rollups.c.segment_id, hour)
    )
    rows = []
    for segment_id, start, *values, joined in conn.execute(query):
        histogram = sparse(
            parse_joined(joined, offset=LATENCY_OFFSET, bins=LATENCY_BINS), offset=LATENCY_OFFSET
        )
        row: dict[str, object] = {"segment_id": int(segment_id), "hour": int(start)}
        for column, value in zip(SUMS, values, strict=True):
            row[column] = float(value or 0) if column in _FLOATS else int(value or 0)
        row["latency_hist"] = buckets.encode(histogram)
        rows.append(row)
    if rows:
        conn.execute(HOURLY_REQUEST_ROLLUPS.insert(), rows)


def in_ranges(column: ColumnElement[int], ranges: Sequence[tuple[int, int]]) -> ColumnElement[bool]:
    """``column`` within any of the half-open ``ranges`` (none: false)."""
    return or_(false(), *(and_(column >= lo, column < hi) for lo, hi in ranges))
