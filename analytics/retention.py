"""Expire rollups: minute rows of old compacted hours, then hourly rows past their horizon.

Minute rollups of an hour are deleted only when the hour is compacted (before the
watermark), outside compaction's re-check (``compaction_recheck_hours``) and has
no pending ``late_hours`` note, one hour per transaction. The same transaction
moves ``minute_rollups_floor`` past the hour, so the floor always means: before
it, every minute row that was compacted is gone, and the minute rows that remain
there arrived late, each hour with its note, for compaction to add to the hourly
rows (:func:`analytics.compaction.compact`). Readers read whole hours before the
floor (:func:`analytics.rollups.plan`).

While it deletes an hour, the pass holds that hour's ``late_hours`` row (a
placeholder of version 0 when there is no note), so a collector that adds late
attempts to the hour at that moment waits, and its rows and note land after the
deletion, to be added by compaction.
"""

from __future__ import annotations

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from analytics.rollups import HOUR, MINUTE_FLOOR, read_minute_floor, read_watermark
from analytics.state import raise_state
from collector.db import WRITE
from collector.retention import BATCH, delete_in_slices
from collector.schema import (
    ADVICE_HOURS,
    ADVICE_ROLLUPS,
    HOURLY_ROLLUPS,
    LATE_HOURS,
    ROLLUPS,
)

DAY = 86_400


def minute_cutoff(
    *, now: int, days: int, hourly_days: int, watermark: int, recheck_hours: int
) -> int | None:
    """The hour before which minute rollups may go, or ``None`` when they are kept forever.

    Minute rows never outlive the hourly horizon either, so nothing older than it
    is left to report.
    """
    horizons = [d for d in (days, hourly_days) if d > 0]
    if not horizons:
        return None
    return min((now - min(horizons) * DAY) // HOUR * HOUR, watermark - recheck_hours * HOUR)


def expire_minute_rollups(
    engine: Engine, *, now: int, days: int, hourly_days: int = 0, recheck_hours: int = 24
) -> int:
    """Delete minute rollups of compacted hours older than the horizon; return how many rows."""
    with engine.connect() as conn:
        watermark = read_watermark(conn)
        if watermark is None:
            return 0
        cutoff = minute_cutoff(
            now=now,
            days=days,
            hourly_days=hourly_days,
            watermark=watermark,
            recheck_hours=recheck_hours,
        )
        if cutoff is None:
            return 0
        floor = read_minute_floor(conn)
        hour = (ROLLUPS.c.minute // HOUR) * HOUR
        query = select(hour).where(ROLLUPS.c.minute < cutoff)
        if floor is not None:
            query = query.where(ROLLUPS.c.minute >= floor)
        hours = [int(h) for (h,) in conn.execute(query.group_by(hour).order_by(hour))]
    deleted = 0
    for start in hours:
        removed = _delete_hour(engine, start)
        if removed is None:
            # A pending note: compaction rewrites the hour first; the floor waits for it.
            return deleted
        deleted += removed
    # Hours without minute rows need no deletion; the floor passes them too.
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            raise_state(conn, MINUTE_FLOOR, cutoff)
    return deleted


def _delete_hour(engine: Engine, start: int) -> int | None:
    """Delete one hour of minute rollups and raise the floor past it; ``None``: it has a note."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert
            placeholder = insert(LATE_HOURS).values(hour=start, version=0)
            # Takes the note's row lock (or creates a placeholder) until the commit.
            conn.execute(
                placeholder.on_conflict_do_update(
                    index_elements=["hour"], set_={"version": LATE_HOURS.c.version}
                )
            )
            version = conn.execute(
                select(LATE_HOURS.c.version).where(LATE_HOURS.c.hour == start)
            ).scalar_one()
            if version > 0:
                return None
            removed = conn.execute(
                delete(ROLLUPS).where(ROLLUPS.c.minute >= start, ROLLUPS.c.minute < start + HOUR)
            ).rowcount
            conn.execute(
                delete(LATE_HOURS).where(LATE_HOURS.c.hour == start, LATE_HOURS.c.version == 0)
            )
            raise_state(conn, MINUTE_FLOOR, start + HOUR)
            return int(removed)


def expire_hourly_rollups(engine: Engine, *, now: int, days: int, batch: int = BATCH) -> int:
    """Delete hourly rollups older than ``days``; return how many rows.

    Only hours whose minute rollups are gone (before the floor) are deleted, so a
    period is never read half from one table and half missing from the other.
    """
    if days <= 0:
        return 0
    cutoff = (now - days * DAY) // HOUR * HOUR
    with engine.connect() as conn:
        floor = read_minute_floor(conn)
    if floor is None:
        return 0
    return delete_in_slices(
        engine, HOURLY_ROLLUPS, HOURLY_ROLLUPS.c.hour < min(cutoff, floor), batch=batch
    )


def expire_advice_rollups(engine: Engine, *, now: int, days: int, batch: int = BATCH) -> int:
    """Delete advice rollups (and their hours' counts) older than ``days``; return how many rows.

    They are hourly sums like the hourly rollups and keep as long.
    """
    if days <= 0:
        return 0
    cutoff = (now - days * DAY) // HOUR * HOUR
    deleted = delete_in_slices(engine, ADVICE_ROLLUPS, ADVICE_ROLLUPS.c.hour < cutoff, batch=batch)
    delete_in_slices(engine, ADVICE_HOURS, ADVICE_HOURS.c.hour < cutoff, batch=batch)
    return deleted
