"""Expire what the collector writes: raw attempts, ingest counters and device states.

Every deletion runs in slices of a bounded number of rows, one transaction each,
so that a large expiry never holds the write lock long enough to stall ingestion.
A horizon of 0 days keeps the rows forever. ``dropped_attributes`` is not expired:
it holds one counter per (fleet, key) with no time, so it grows with the number
of distinct keys senders use, not with time.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, Table, delete, select, tuple_

from collector.db import WRITE
from collector.schema import ATTEMPTS, DEVICES, INGEST_STATS, REQUEST_ROLLUPS, REQUESTS

NS_PER_DAY = 86_400 * 1_000_000_000
SECONDS_PER_DAY = 86_400
#: Rows deleted per transaction.
BATCH = 10_000


def delete_in_slices(
    engine: Engine, table: Table, condition: ColumnElement[bool], *, batch: int = BATCH
) -> int:
    """Delete the rows of ``table`` that match ``condition``, ``batch`` at a time; return how many.

    Each slice selects primary keys and deletes them in its own write transaction.
    """
    key = list(table.primary_key.columns)
    chosen = select(*key).where(condition).limit(batch)
    deleted = 0
    while True:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                keys = [tuple(k) for k in conn.execute(chosen)]
                if keys:
                    if len(key) == 1:
                        match = key[0].in_([k[0] for k in keys])
                    else:
                        match = tuple_(*key).in_(keys)
                    conn.execute(delete(table).where(match))
        deleted += len(keys)
        if len(keys) < batch:
            return deleted


def expire_attempts(engine: Engine, *, now_ns: int, retention_days: int, batch: int = BATCH) -> int:
    """Delete attempts that started more than ``retention_days`` before ``now_ns``; how many."""
    if retention_days <= 0:
        return 0
    cutoff = now_ns - retention_days * NS_PER_DAY
    return delete_in_slices(engine, ATTEMPTS, ATTEMPTS.c.start_time_unix_nano < cutoff, batch=batch)


def expire_ingest_stats(engine: Engine, *, now: int, days: int, batch: int = BATCH) -> int:
    """Delete ingest counters of minutes more than ``days`` before ``now`` (Unix seconds)."""
    if days <= 0:
        return 0
    cutoff = now - days * SECONDS_PER_DAY
    return delete_in_slices(engine, INGEST_STATS, INGEST_STATS.c.minute < cutoff, batch=batch)


def expire_devices(engine: Engine, *, now: int, days: int, batch: int = BATCH) -> int:
    """Delete device states last seen more than ``days`` before ``now`` (Unix seconds).

    A device that comes back is recorded anew, as on its first attempt.
    """
    if days <= 0:
        return 0
    cutoff = now - days * SECONDS_PER_DAY
    return delete_in_slices(engine, DEVICES, DEVICES.c.last_seen < cutoff, batch=batch)


def expire_requests(engine: Engine, *, now_ns: int, retention_days: int, batch: int = BATCH) -> int:
    """Delete requests that started more than ``retention_days`` before ``now_ns`` (with attempts).

    Their contributions stay in ``request_rollups``; the assembler no longer merges
    attempts that old (:mod:`collector.assemble`), so none is counted again.
    """
    if retention_days <= 0:
        return 0
    cutoff = now_ns - retention_days * NS_PER_DAY
    return delete_in_slices(engine, REQUESTS, REQUESTS.c.start_time_unix_nano < cutoff, batch=batch)


def expire_request_rollups(engine: Engine, *, now: int, days: int, batch: int = BATCH) -> int:
    """Delete request rollups of minutes more than ``days`` before ``now`` (Unix seconds)."""
    if days <= 0:
        return 0
    cutoff = now - days * SECONDS_PER_DAY
    return delete_in_slices(engine, REQUEST_ROLLUPS, REQUEST_ROLLUPS.c.minute < cutoff, batch=batch)
