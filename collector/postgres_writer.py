"""Attempts and segments on PostgreSQL: binary COPY, and ``unnest`` for segments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection, func
from sqlalchemy.dialects import postgresql

from collector.normalise import AttemptRow
from collector.rollup import SegmentKey
from collector.schema import ATTEMPTS, SEGMENT_DIMENSIONS
from collector.writer import (
    INSERT_COLUMNS,
    SEGMENT_COLUMNS,
    SEGMENT_LOOKUP,
    AttemptIds,
    QueueRow,
    Writer,
    attempt_values,
)

_PG_TYPES = {
    "LargeBinary": "bytea",
    "BigInteger": "int8",
    "Integer": "int4",
    "Float": "float8",
    "String": "text",
    "Text": "text",
    "Boolean": "bool",
}
_COLUMN_TYPES = [_PG_TYPES[type(ATTEMPTS.c[c].type).__name__] for c in INSERT_COLUMNS]
_STAGING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS attempts_staging "
    "(LIKE attempts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_FROM_STAGING = (
    f"INSERT INTO attempts ({','.join(INSERT_COLUMNS)}) "
    f"SELECT {','.join(INSERT_COLUMNS)} FROM attempts_staging "
    "ON CONFLICT (start_time_unix_nano, trace_id, span_id) DO NOTHING RETURNING trace_id, span_id"
)
_SEGMENTS = (
    f"INSERT INTO segments ({SEGMENT_COLUMNS}) SELECT * FROM unnest("
    + ",".join(["%s::text[]"] * len(SEGMENT_DIMENSIONS))
    + f") ON CONFLICT DO NOTHING RETURNING id, {SEGMENT_COLUMNS}"
)

_QUEUE_COPY = (
    "COPY request_queue (start_time_unix_nano, trace_id, span_id) FROM STDIN (FORMAT BINARY)"
)


#: The advisory lock key under which new dimension values are admitted ("twsegmnt").
_SEGMENTS_LOCK = 0x7477_7365_676D_6E74


class PostgresWriter(Writer[list[tuple[Any, ...]]]):
    """Writes through psycopg 3; PostgreSQL's row locks let writers run side by side."""

    insert = staticmethod(postgresql.insert)
    least = func.least
    greatest = func.greatest
    segment_lookup = SEGMENT_LOOKUP.replace("?", "%s")

    def prepare(
        self, rows: Sequence[AttemptRow], segment_ids: Sequence[int], received_ns: int
    ) -> list[tuple[Any, ...]]:
        """Attempt rows as COPY rows."""
        return attempt_values(rows, segment_ids, received_ns)

    def insert_attempts(
        self, conn: Connection, prepared: list[tuple[Any, ...]]
    ) -> AttemptIds | None:
        """Binary COPY straight into ``attempts`` (``None``: every row was new); if any
        row is already there, COPY into a staging table instead and return the new ones."""
        driver = conn.connection.driver_connection
        assert driver is not None
        savepoint = conn.begin_nested()
        try:
            with driver.cursor() as cursor:
                _copy(cursor, "attempts", prepared)
            savepoint.commit()
            return None
        except psycopg.errors.UniqueViolation:
            # Re-sent spans: rare, so they take the slower path that skips them.
            savepoint.rollback()
        with driver.cursor() as cursor:
            cursor.execute(_STAGING)
            _copy(cursor, "attempts_staging", prepared)
            cursor.execute(_FROM_STAGING)
            return {(bytes(t), bytes(s)) for t, s in cursor.fetchall()}

    def queue_attempts(self, conn: Connection, rows: Sequence[QueueRow]) -> None:
        """Binary COPY into ``request_queue`` (its id comes from the sequence)."""
        driver = conn.connection.driver_connection
        assert driver is not None
        with (
            driver.cursor() as cursor,
            cursor.copy(_QUEUE_COPY) as copy,
        ):
            copy.set_types(["int8", "bytea", "bytea"])
            for row in rows:
                copy.write_row(row)

    def lock_segments(self, conn: Connection) -> None:
        """A transaction-scoped advisory lock: one writer at a time admits new values."""
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SEGMENTS_LOCK})")

    def insert_segments(self, cursor: Any, keys: Sequence[SegmentKey]) -> None:
        # One array per dimension: the statement text is the same for any number of keys.
        cursor.execute(_SEGMENTS, [list(c) for c in zip(*keys, strict=True)])


def _copy(cursor: Any, table: str, values: list[tuple[Any, ...]]) -> None:
    """Binary COPY of attempt rows into ``table``."""
    with cursor.copy(
        f"COPY {table} ({','.join(INSERT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(_COLUMN_TYPES)
        for row in values:
            copy.write_row(row)
