"""Fold closed hours of minute rollups into ``hourly_rollups``, so reports read less.

A pass writes one hourly row per (segment, hour, shadow) for every closed hour
from the watermark on, then moves the watermark (``analytics_state``) past them,
in one transaction per few hours so that ingestion is never held up for long.
Minute rollups are never deleted, so the hourly rows are a cache: readers take
whole hours before the watermark from them and everything else from the minute
rows (:func:`analytics.rollups.plan`). Attempts that arrive late for a compacted
hour are picked up in two ways: the re-check of the last
``compaction_recheck_hours`` hours rewrites every hour whose minute rows no
longer add up to its hourly row, and older hours are rewritten when the
collector has noted them in ``late_hours`` (a device that was offline for days).
A note is removed in the transaction that rewrites its hour, and only in the
version that was read, so a note made meanwhile is kept for the next pass.

Minute rollups of old hours are deleted by :mod:`analytics.retention` up to the
minute floor. Hours before the floor cannot be rewritten from minute rows: the
re-check stops at the floor, and a noted hour there holds only the attempts that
arrived after the deletion, so they are added to its hourly rows and their minute
rows removed, in one transaction that holds the note's row.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Engine, Float, and_, cast, delete, func, or_, select

from analytics.histograms import (
    CONFIDENCE_BINS,
    LATENCY_BINS,
    LATENCY_OFFSET,
    parse_joined,
    sparse,
)
from analytics.rollups import HOUR, WATERMARK, read_minute_floor, read_watermark
from analytics.state import raise_state
from collector import buckets
from collector.db import WRITE
from collector.rollup import SUM_COLUMNS
from collector.schema import HOURLY_ROLLUPS, LATE_HOURS, ROLLUPS

log = logging.getLogger(__name__)
#: Hours written per transaction.
CHUNK_HOURS = 6
_INT_COLUMNS = frozenset(c for c in SUM_COLUMNS if not c.endswith("_sum") or "tokens" in c)


def closed_before(now: int, grace_seconds: int) -> int:
    """The first hour that is not closed at ``now``: hours before it are compacted."""
    return (now - grace_seconds) // HOUR * HOUR


def compact(engine: Engine, *, now: int, grace_seconds: int = 300, recheck_hours: int = 24) -> int:
    """One compaction pass at ``now`` (Unix seconds); returns how many hours it wrote."""
    limit = closed_before(now, grace_seconds)
    with engine.connect() as conn:
        watermark = read_watermark(conn)
        if watermark is None:
            first = conn.execute(select(func.min(ROLLUPS.c.minute))).scalar()
            if first is None:
                return 0
            watermark = int(first) // HOUR * HOUR
        notes = {
            int(h): int(v)
            for h, v in conn.execute(
                select(LATE_HOURS.c.hour, LATE_HOURS.c.version).where(LATE_HOURS.c.hour < limit)
            )
        }
        floor = read_minute_floor(conn) or 0
        stale = stale_hours(
            conn, start=max(watermark - recheck_hours * HOUR, floor, 0), end=watermark
        )
        stale = sorted({*stale, *(h for h in notes if floor <= h < watermark)})
        late = sorted(h for h in notes if h < floor)
        # Only hours with minute rows are written: a store idle for months costs nothing.
        hour = (ROLLUPS.c.minute // HOUR) * HOUR
        fresh = [
            int(h)
            for (h,) in conn.execute(
                select(hour)
                .where(ROLLUPS.c.minute >= watermark, ROLLUPS.c.minute < limit)
                .group_by(hour)
                .order_by(hour)
            )
        ]
    for start in late:
        _add_late(engine, start)
    hours = [*stale, *fresh]
    for i in range(0, len(hours), CHUNK_HOURS):
        chunk = hours[i : i + CHUNK_HOURS]
        with engine.connect() as conn:
            rows = _hour_rows(conn, chunk)
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                conn.execute(delete(HOURLY_ROLLUPS).where(HOURLY_ROLLUPS.c.hour.in_(chunk)))
                if rows:
                    conn.execute(HOURLY_ROLLUPS.insert(), rows)
                seen = [(h, notes[h]) for h in chunk if h in notes]
                if seen:
                    conn.execute(
                        delete(LATE_HOURS).where(
                            or_(
                                *(
                                    and_(LATE_HOURS.c.hour == h, LATE_HOURS.c.version == v)
                                    for h, v in seen
                                )
                            )
                        )
                    )
                raise_state(conn, WATERMARK, max(watermark, max(chunk) + HOUR))
    if limit > watermark:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                raise_state(conn, WATERMARK, limit)
    if hours or late:
        log.info("compacted %d hours of rollups", len(hours) + len(late))
    return len(hours) + len(late)


def _add_late(engine: Engine, start: int) -> None:
    """Add the late minute rollups of an hour before the minute floor to its hourly rows.

    The note's row is locked first, so a collector adding to the hour meanwhile
    waits; the minute rows read are then exactly those deleted.
    """
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            note = conn.execute(
                select(LATE_HOURS.c.version).where(LATE_HOURS.c.hour == start).with_for_update()
            ).scalar()
            if note is None:
                return
            rows = {(r["segment_id"], r["shadow"]): r for r in _hour_rows(conn, [start])}
            stored = conn.execute(
                select(HOURLY_ROLLUPS).where(HOURLY_ROLLUPS.c.hour == start)
            ).mappings()
            for old in stored:
                key = (int(old["segment_id"]), bool(old["shadow"]))
                new = rows.get(key)
                if new is None:
                    rows[key] = dict(old)
                    continue
                for name in SUM_COLUMNS:
                    new[name] = new[name] + old[name]
                new["latency_hist"] = buckets.merge(new["latency_hist"], old["latency_hist"])
                new["confidence_hist"] = buckets.merge(
                    new["confidence_hist"], old["confidence_hist"]
                )
            conn.execute(delete(HOURLY_ROLLUPS).where(HOURLY_ROLLUPS.c.hour == start))
            if rows:
                conn.execute(HOURLY_ROLLUPS.insert(), list(rows.values()))
            conn.execute(
                delete(ROLLUPS).where(ROLLUPS.c.minute >= start, ROLLUPS.c.minute < start + HOUR)
            )
            conn.execute(delete(LATE_HOURS).where(LATE_HOURS.c.hour == start))


def stale_hours(conn: Connection, *, start: int, end: int) -> list[int]:
    """Compacted hours in ``[start, end)`` whose minute rollups no longer add up to their rows."""
    if end <= start:
        return []
    hour = (ROLLUPS.c.minute // HOUR) * HOUR
    minutes = (
        select(
            ROLLUPS.c.segment_id, hour.label("hour"), ROLLUPS.c.shadow, func.sum(ROLLUPS.c.attempts)
        )
        .where(ROLLUPS.c.minute >= start, ROLLUPS.c.minute < end)
        .group_by(ROLLUPS.c.segment_id, hour, ROLLUPS.c.shadow)
    )
    hourly = select(
        HOURLY_ROLLUPS.c.segment_id,
        HOURLY_ROLLUPS.c.hour,
        HOURLY_ROLLUPS.c.shadow,
        HOURLY_ROLLUPS.c.attempts,
    ).where(HOURLY_ROLLUPS.c.hour >= start, HOURLY_ROLLUPS.c.hour < end)
    expected = {(int(s), int(h), bool(sh)): int(n) for s, h, sh, n in conn.execute(minutes)}
    stored = {(int(s), int(h), bool(sh)): int(n) for s, h, sh, n in conn.execute(hourly)}
    return sorted(
        {key[1] for key in expected.keys() | stored.keys() if expected.get(key) != stored.get(key)}
    )


def _hour_rows(conn: Connection, hours: Iterable[int]) -> list[dict[str, Any]]:
    """The hourly rows for ``hours``: minute rollups added up per (segment, hour, shadow)."""
    concat = func.string_agg if conn.dialect.name == "postgresql" else func.group_concat
    out: list[dict[str, Any]] = []
    for start in sorted(set(hours)):
        query = (
            select(
                ROLLUPS.c.segment_id,
                ROLLUPS.c.shadow,
                *(cast(func.sum(ROLLUPS.c[c]), Float) for c in SUM_COLUMNS),
                concat(func.nullif(ROLLUPS.c.latency_hist, "{}"), ","),
                concat(func.nullif(ROLLUPS.c.confidence_hist, "{}"), ","),
            )
            .where(ROLLUPS.c.minute >= start, ROLLUPS.c.minute < start + HOUR)
            .group_by(ROLLUPS.c.segment_id, ROLLUPS.c.shadow)
        )
        for segment_id, shadow, *values in conn.execute(query):
            row: dict[str, Any] = {
                "segment_id": int(segment_id),
                "hour": start,
                "shadow": bool(shadow),
            }
            for name, value in zip(SUM_COLUMNS, values, strict=False):
                row[name] = round(value or 0) if name in _INT_COLUMNS else float(value or 0)
            latency, confidence = values[len(SUM_COLUMNS)], values[len(SUM_COLUMNS) + 1]
            row["latency_hist"] = buckets.encode(
                sparse(
                    parse_joined(latency, offset=LATENCY_OFFSET, bins=LATENCY_BINS),
                    offset=LATENCY_OFFSET,
                )
            )
            row["confidence_hist"] = buckets.encode(
                sparse(parse_joined(confidence, offset=0, bins=CONFIDENCE_BINS), offset=0)
            )
            out.append(row)
    return out
