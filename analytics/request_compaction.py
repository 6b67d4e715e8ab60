"""Fold closed hours of request rollups into ``hourly_request_rollups``, so objectives read less.

The hourly rows are a cache of the minute rows, kept equal to them: a pass adds
up the minute rows of every closed hour per segment, compares those sums with
the hourly rows, and rewrites each hour where they differ (an hour not folded
yet, one whose requests changed since because a late attempt moved them, or one
whose minute rows were deleted), a few hours per transaction. Then it moves the
``hourly_request_rollups`` watermark (``analytics_state``) to the first hour not
closed. Readers take whole hours before the watermark from the hourly rows
(:mod:`analytics.objective_sums`); a late change to a folded hour is read from
there after the next pass.

The comparison reads every minute row once per pass, the price of exactness
without notes from the assembler; it runs in the background, every
``analytics.compaction_interval_seconds``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import Connection, Engine, Float, and_, cast, delete, false, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement

from analytics.compaction import CHUNK_HOURS, closed_before
from analytics.histograms import LATENCY_BINS, LATENCY_OFFSET, parse_joined, sparse
from analytics.rollups import HOUR, hist_concat
from collector import buckets
from collector.db import WRITE
from collector.schema import ANALYTICS_STATE, HOURLY_REQUEST_ROLLUPS, REQUEST_ROLLUPS

#: The ``analytics_state`` name of the watermark: hours before it are folded.
WATERMARK = "hourly_request_rollups"
#: The added-up columns (all but the keys and the histogram).
SUMS = tuple(
    c.name
    for c in REQUEST_ROLLUPS.columns
    if c.name not in ("segment_id", "minute", "latency_hist")
)
_FLOATS = frozenset(c for c in SUMS if c in ("latency_ms_sum", "quality_sum", "quality_sq_sum"))

Key = tuple[int, int]


def read_watermark(conn: Connection) -> int | None:
    """The first hour of request rollups not folded (Unix seconds); ``None`` before any pass."""
    value = conn.execute(
        select(ANALYTICS_STATE.c.value).where(ANALYTICS_STATE.c.name == WATERMARK)
    ).scalar()
    return None if value is None else int(value)


def compact_requests(engine: Engine, *, now: int, grace_seconds: int = 300) -> int:
    """One pass at ``now`` (Unix seconds); returns how many hours it rewrote."""
    limit = closed_before(now, grace_seconds)
    with engine.connect() as conn:
        minutes = _sums(conn, hourly=False, before=limit)
        hours = _sums(conn, hourly=True, before=limit)
    stale = sorted({key[1] for key in {*minutes, *hours} if not _same(minutes, hours, key)})
    for i in range(0, len(stale), CHUNK_HOURS):
        chunk = stale[i : i + CHUNK_HOURS]
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                _rewrite(conn, chunk)
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            _set_watermark(conn, limit)
    return len(stale)


def _sums(conn: Connection, *, hourly: bool, before: int) -> dict[Key, tuple[float, ...]]:
    """Per (segment, hour) before ``before``: the added-up columns."""
    table = HOURLY_REQUEST_ROLLUPS if hourly else REQUEST_ROLLUPS
    time = table.c.hour if hourly else table.c.minute
    hour = (time // HOUR) * HOUR if not hourly else time
    query = (
        select(table.c.segment_id, hour, *(cast(func.sum(table.c[c]), Float) for c in SUMS))
        .where(time < before)
        .group_by(table.c.segment_id, hour)
    )
    return {
        (int(s), int(h)): tuple(float(v or 0) for v in rest) for s, h, *rest in conn.execute(query)
    }


def _same(
    minutes: dict[Key, tuple[float, ...]], hours: dict[Key, tuple[float, ...]], key: Key
) -> bool:
    a, b = minutes.get(key), hours.get(key)
    if a is None or b is None:
        return a is b
    # Floating sums added in another order differ in their last bits.
    return all(math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9) for x, y in zip(a, b, strict=True))


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


def _set_watermark(conn: Connection, value: int) -> None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(ANALYTICS_STATE).values(name=WATERMARK, value=value)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[ANALYTICS_STATE.c.name], set_={"value": statement.excluded.value}
        )
    )
