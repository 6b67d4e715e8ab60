"""Attempts and segments on SQLite: multi-row INSERTs on the driver cursor, one writer at a time."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Engine, func
from sqlalchemy.dialects import sqlite

from collector.normalise import AttemptRow
from collector.rollup import SegmentKey
from collector.schema import SEGMENT_DIMENSIONS
from collector.writer import (
    INSERT_COLUMNS,
    SEGMENT_COLUMNS,
    SEGMENT_LOOKUP,
    SEGMENT_SLICE,
    AttemptIds,
    QueueRow,
    Writer,
    attempt_values,
)
from collector.writer_lock import WriterLock

#: Rows per INSERT statement: 500 x 39 parameters stays under SQLite's 32,766 limit.
_INSERT_SLICE = 500
_TRACE_ID = INSERT_COLUMNS.index("trace_id")
_SPAN_ID = INSERT_COLUMNS.index("span_id")
#: Queue rows per INSERT statement (three parameters each).
_QUEUE_SLICE = 2000
#: Rows in one INSERT, and their parameters flattened.
Slice = tuple[int, tuple[Any, ...]]


class SQLiteWriter(Writer[list[Slice]]):
    """Writes through SQLite's driver, queued on a :class:`WriterLock`."""

    insert = staticmethod(sqlite.insert)
    least = func.min
    greatest = func.max
    segment_lookup = SEGMENT_LOOKUP

    def __init__(self, engine: Engine, *, busy_timeout_ms: int) -> None:
        self.lock = WriterLock(engine.url.database, timeout_ms=busy_timeout_ms)
        self._insert_sql_cache: dict[tuple[int, bool], str] = {}

    def prepare(
        self, rows: Sequence[AttemptRow], segment_ids: Sequence[int], received_ns: int
    ) -> list[Slice]:
        """Attempt rows cut into INSERT-sized slices."""
        values = attempt_values(rows, segment_ids, received_ns)
        return [
            (len(part), tuple(chain.from_iterable(part)))
            for part in (
                values[o : o + _INSERT_SLICE] for o in range(0, len(values), _INSERT_SLICE)
            )
        ]

    def insert_attempts(self, conn: Connection, prepared: list[Slice]) -> AttemptIds | None:
        """Multi-row INSERTs on the driver's cursor; ``None`` when every row was new.

        The plain INSERT says how many rows it added; only when that falls short
        (re-sent spans) is the slice inserted again with RETURNING, after rolling
        back to a savepoint, to learn which rows were new.
        """
        cursor = conn.connection.cursor()
        returned: AttemptIds = set()
        complete: list[tuple[Any, ...]] = []
        try:
            for count, params in prepared:
                cursor.execute("SAVEPOINT attempts_slice")
                cursor.execute(self._insert_sql(count, returning=False), params)
                if cursor.rowcount == count:
                    complete.append(params)
                else:
                    cursor.execute("ROLLBACK TO attempts_slice")
                    cursor.execute(self._insert_sql(count, returning=True), params)
                    returned.update(cursor.fetchall())
                cursor.execute("RELEASE attempts_slice")
        finally:
            cursor.close()
        if len(complete) == len(prepared):
            return None
        width = len(INSERT_COLUMNS)
        for params in complete:
            returned.update(
                (params[o + _TRACE_ID], params[o + _SPAN_ID]) for o in range(0, len(params), width)
            )
        return returned

    def queue_attempts(self, conn: Connection, rows: Sequence[QueueRow]) -> None:
        """Multi-row INSERTs into ``request_queue`` (its rowid is its key: no index to update)."""
        cursor = conn.connection.cursor()
        try:
            for offset in range(0, len(rows), _QUEUE_SLICE):
                part = rows[offset : offset + _QUEUE_SLICE]
                cursor.execute(_queue_sql(len(part)), tuple(chain.from_iterable(part)))
        finally:
            cursor.close()

    def insert_segments(self, cursor: Any, keys: Sequence[SegmentKey]) -> None:
        params = [value for key in keys for value in key]
        cursor.execute(_segments_sql(len(keys)), params)

    def _insert_sql(self, count: int, *, returning: bool) -> str:
        sql = self._insert_sql_cache.get((count, returning))
        if sql is None:
            one = "(" + ",".join(["?"] * len(INSERT_COLUMNS)) + ")"
            columns = ",".join(INSERT_COLUMNS)
            sql = (
                f"INSERT INTO attempts ({columns}) VALUES {','.join([one] * count)} "
                "ON CONFLICT (start_time_unix_nano, trace_id, span_id) DO NOTHING"
            )
            if returning:
                sql += " RETURNING trace_id, span_id"
            self._insert_sql_cache[(count, returning)] = sql
        return sql


@functools.lru_cache(maxsize=SEGMENT_SLICE)
def _segments_sql(count: int) -> str:
    one = "(" + ",".join(["?"] * len(SEGMENT_DIMENSIONS)) + ")"
    return (
        f"INSERT INTO segments ({SEGMENT_COLUMNS}) VALUES {','.join([one] * count)} "
        f"ON CONFLICT DO NOTHING RETURNING id, {SEGMENT_COLUMNS}"
    )


@functools.lru_cache(maxsize=64)
def _queue_sql(count: int) -> str:
    return "INSERT INTO request_queue (start_time_unix_nano, trace_id, span_id) VALUES " + ",".join(
        ["(?,?,?)"] * count
    )
