"""Raw attempts expire after the retention period; rollups and device states stay."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select, tuple_

from collector.db import WRITE
from collector.schema import ATTEMPTS

NS_PER_DAY = 86_400 * 1_000_000_000


def expire_attempts(
    engine: Engine, *, now_ns: int, retention_days: int, batch: int = 10_000
) -> int:
    """Delete attempts that started more than ``retention_days`` before ``now_ns``; return how many.

    Deletes in slices of ``batch`` rows so that a large expiry never holds the
    write lock long enough to stall ingestion.
    """
    table = ATTEMPTS
    cutoff = now_ns - retention_days * NS_PER_DAY
    oldest = (
        select(table.c.trace_id, table.c.span_id)
        .where(table.c.start_time_unix_nano < cutoff)
        .limit(batch)
    )
    deleted = 0
    while True:
        with engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                keys = [tuple(k) for k in conn.execute(oldest)]
                if keys:
                    conn.execute(
                        delete(table).where(tuple_(table.c.trace_id, table.c.span_id).in_(keys))
                    )
        deleted += len(keys)
        if len(keys) < batch:
            return deleted
