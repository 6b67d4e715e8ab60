"""Write a normalised batch: attempts, rollups, devices and counters in one transaction.

The transaction commits before the collector answers, so a 200 means stored.
Only attempts that were not stored before are folded into rollups, so a re-sent
span is stored and counted once, even when two collectors receive it at the same
moment. The usual case, where every attempt is new, takes the fast path: a plain
multi-row INSERT on SQLite (it reports how many rows it added) and a binary COPY
on PostgreSQL (a duplicate key fails it). Only when that shows re-sent spans is
the slice inserted again with ``ON CONFLICT DO NOTHING ... RETURNING`` to learn
which attempts are new.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import logging
import operator
import os
import threading
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import chain
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, bindparam, case, func
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from collector.db import WRITE, is_sqlite
from collector.errors import StoreBusy
from collector.normalise import AttemptRow, Batch
from collector.rollup import (
    HISTOGRAM_COLUMNS,
    SUM_COLUMNS,
    SegmentKey,
    build_devices,
    build_rollups,
    segment_key,
)
from collector.schema import (
    ATTEMPTS,
    DEVICES,
    DROPPED_ATTRIBUTES,
    INGEST_STATS,
    ROLLUPS,
    SEGMENT_DIMENSIONS,
)

log = logging.getLogger(__name__)

_ATTEMPT_FIELDS = tuple(AttemptRow.__dataclass_fields__)
_attempt_values = operator.attrgetter(*_ATTEMPT_FIELDS)
_INSERT_COLUMNS = (*_ATTEMPT_FIELDS, "segment_id", "received_time_unix_nano")
_TRACE_ID = _INSERT_COLUMNS.index("trace_id")
_SPAN_ID = _INSERT_COLUMNS.index("span_id")
#: Rows per INSERT statement: 500 x 39 parameters stays under SQLite's 32,766 limit.
_INSERT_SLICE = 500
_PG_TYPES = {
    "LargeBinary": "bytea",
    "BigInteger": "int8",
    "Integer": "int4",
    "Float": "float8",
    "String": "text",
    "Text": "text",
    "Boolean": "bool",
}
_PG_COLUMN_TYPES = [_PG_TYPES[type(ATTEMPTS.c[c].type).__name__] for c in _INSERT_COLUMNS]
_PG_STAGING = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS attempts_staging "
    "(LIKE attempts INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_PG_FROM_STAGING = (
    f"INSERT INTO attempts ({','.join(_INSERT_COLUMNS)}) "
    f"SELECT {','.join(_INSERT_COLUMNS)} FROM attempts_staging "
    "ON CONFLICT (start_time_unix_nano, trace_id, span_id) DO NOTHING RETURNING trace_id, span_id"
)


def _slices(values: list[tuple[Any, ...]]) -> list[tuple[int, tuple[Any, ...]]]:
    """Attempt rows cut into INSERT-sized slices: (rows, flat parameters) each."""
    return [
        (len(part), tuple(chain.from_iterable(part)))
        for part in (values[o : o + _INSERT_SLICE] for o in range(0, len(values), _INSERT_SLICE))
    ]


class _DriverStatement:
    """An upsert built with SQLAlchemy, compiled once, run with the driver's executemany.

    For a few dozen rows per request this skips SQLAlchemy's per-row parameter
    processing, and keeps the statement text short so both drivers cache it
    prepared (a multi-row VALUES form would be parsed anew on every request).
    """

    def __init__(self, statement: Any, engine: Engine) -> None:
        values: dict[str, Any] = {c.name: bindparam(c.name) for c in statement.table.c}
        compiled = statement.values(values).compile(dialect=engine.dialect)
        self.sql = str(compiled)
        self.positional = compiled.positiontup if engine.dialect.paramstyle == "qmark" else None

    def run(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cursor = conn.connection.cursor()
        try:
            if self.positional is not None:
                names = self.positional
                cursor.executemany(self.sql, [tuple(row[n] for n in names) for row in rows])
            else:
                cursor.executemany(self.sql, rows)
        finally:
            cursor.close()


def _copy(cursor: Any, table: str, values: list[tuple[Any, ...]]) -> None:
    """Binary COPY of attempt rows into ``table``."""
    with cursor.copy(
        f"COPY {table} ({','.join(_INSERT_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(_PG_COLUMN_TYPES)
        for row in values:
            copy.write_row(row)


_STAT_COLUMNS = (
    "export_requests",
    "spans_received",
    "attempts_stored",
    "duplicates",
    "rejected",
    "other_spans",
    "dropped_attributes",
)
_RETRIES = 3


@dataclass(frozen=True)
class WriteResult:
    """What a write stored."""

    stored: int
    duplicates: int


class Store:
    """The collector's writer: stateless between requests apart from a segment-id cache."""

    def __init__(self, engine: Engine, *, busy_timeout_ms: int = 5000) -> None:
        self.engine = engine
        self._sqlite = is_sqlite(engine)
        self._write_lock: AbstractContextManager[Any] = (
            WriterLock(engine.url.database, timeout_ms=busy_timeout_ms)
            if self._sqlite
            else contextlib.nullcontext()
        )
        self._segment_ids: dict[SegmentKey, int] = {}
        dialect_insert = sqlite.insert if self._sqlite else postgresql.insert
        least = func.min if self._sqlite else func.least
        greatest = func.max if self._sqlite else func.greatest

        self._insert_sql_cache: dict[tuple[int, bool], str] = {}

        rollups = ROLLUPS
        ins = dialect_insert(rollups)
        merged: dict[str, Any] = {c: rollups.c[c] + ins.excluded[c] for c in SUM_COLUMNS}
        for c in HISTOGRAM_COLUMNS:
            merged[c] = func.tw_hist_merge(rollups.c[c], ins.excluded[c])
        self._upsert_rollups = _DriverStatement(
            ins.on_conflict_do_update(
                index_elements=["segment_id", "minute", "shadow"], set_=merged
            ),
            engine,
        )

        devices = DEVICES
        ins = dialect_insert(devices)
        newer = ins.excluded.last_seen >= devices.c.last_seen
        same_version = ins.excluded.model_version == devices.c.model_version
        self._upsert_devices = _DriverStatement(
            ins.on_conflict_do_update(
                index_elements=["fleet", "device_id", "model"],
                set_={
                    "model_version": case(
                        (newer, ins.excluded.model_version), else_=devices.c.model_version
                    ),
                    "device_model": case(
                        (newer, ins.excluded.device_model), else_=devices.c.device_model
                    ),
                    "app_version": case(
                        (newer, ins.excluded.app_version), else_=devices.c.app_version
                    ),
                    "version_since": case(
                        (same_version, least(devices.c.version_since, ins.excluded.version_since)),
                        (newer, ins.excluded.version_since),
                        else_=devices.c.version_since,
                    ),
                    "first_seen": least(devices.c.first_seen, ins.excluded.first_seen),
                    "last_seen": greatest(devices.c.last_seen, ins.excluded.last_seen),
                },
            ),
            engine,
        )

        stats = INGEST_STATS
        ins = dialect_insert(stats)
        self._upsert_stats = _DriverStatement(
            ins.on_conflict_do_update(
                index_elements=["fleet", "minute"],
                set_={c: stats.c[c] + ins.excluded[c] for c in _STAT_COLUMNS},
            ),
            engine,
        )

        dropped = DROPPED_ATTRIBUTES
        ins = dialect_insert(dropped)
        self._upsert_dropped = _DriverStatement(
            ins.on_conflict_do_update(
                index_elements=["fleet", "key"],
                set_={"count": dropped.c.count + ins.excluded.count},
            ),
            engine,
        )

    def write(self, batch: Batch, *, received_ns: int) -> WriteResult:
        """Store ``batch`` in one transaction; raise :class:`StoreBusy` if the database cannot."""
        unique: dict[tuple[int, bytes, bytes], AttemptRow] = {}
        for row in batch.attempts:
            unique.setdefault((row.start_time_unix_nano, row.trace_id, row.span_id), row)
        # Key order is the index order, so concurrent writers lock rows in one order.
        rows = [unique[key] for key in sorted(unique)]
        for attempt in range(1, _RETRIES + 1):
            try:
                keys = [segment_key(r) for r in rows]
                known = self._segments(keys)
                stored = self._write_once(batch, rows, [known[k] for k in keys], received_ns)
                return WriteResult(stored=stored, duplicates=len(batch.attempts) - stored)
            except (sa_exc.OperationalError, sa_exc.TimeoutError, sa_exc.InterfaceError) as exc:
                if attempt < _RETRIES and _is_conflict(exc):
                    time.sleep(0.01 * attempt)
                    continue
                log.warning("store unavailable: %s", exc)
                raise StoreBusy() from exc
        raise AssertionError("unreachable")

    def _write_once(
        self, batch: Batch, rows: list[AttemptRow], segment_ids: list[int], received_ns: int
    ) -> int:
        values = [
            (*_attempt_values(r), i, received_ns) for r, i in zip(rows, segment_ids, strict=True)
        ]
        # What needs no lock is done before taking it: the rows' rollups and device
        # states, on the usual assumption that none of them is a duplicate.
        rollups = build_rollups(rows, segment_ids)
        devices = build_devices(rows)
        slices = _slices(values) if self._sqlite else []
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                if self._sqlite:
                    inserted = self._insert_sqlite(conn, slices)
                else:
                    inserted = self._insert_postgres(conn, values)
                if inserted is not None:
                    # Some were re-sent: fold only the attempts that are new.
                    kept = [
                        (row, segment_id)
                        for row, segment_id in zip(rows, segment_ids, strict=True)
                        if (row.trace_id, row.span_id) in inserted
                    ]
                    rows = [row for row, _ in kept]
                    segment_ids = [segment_id for _, segment_id in kept]
                    rollups = build_rollups(rows, segment_ids)
                    devices = build_devices(rows)
                self._upsert_rollups.run(conn, rollups)
                self._upsert_devices.run(conn, devices)
                self._count(conn, batch, rows, received_ns)
        return len(rows)

    def _insert_sqlite(
        self, conn: Connection, slices: list[tuple[int, tuple[Any, ...]]]
    ) -> set[tuple[bytes, bytes]] | None:
        """Multi-row INSERTs on the driver's cursor; ``None`` when every row was new.

        The plain INSERT says how many rows it added; only when that falls short
        (re-sent spans) is the slice inserted again with RETURNING, after rolling
        back to a savepoint, to learn which rows were new.
        """
        cursor = conn.connection.cursor()
        returned: set[tuple[bytes, bytes]] = set()
        complete: list[tuple[Any, ...]] = []
        try:
            for count, params in slices:
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
        if len(complete) == len(slices):
            return None
        width = len(_INSERT_COLUMNS)
        for params in complete:
            returned.update(
                (params[o + _TRACE_ID], params[o + _SPAN_ID]) for o in range(0, len(params), width)
            )
        return returned

    def _insert_postgres(
        self, conn: Connection, values: list[tuple[Any, ...]]
    ) -> set[tuple[bytes, bytes]] | None:
        """Binary COPY straight into ``attempts`` (``None``: every row was new); if any
        row is already there, COPY into a staging table instead and return the new ones."""
        driver = conn.connection.driver_connection
        assert driver is not None
        savepoint = conn.begin_nested()
        try:
            with driver.cursor() as cursor:
                _copy(cursor, "attempts", values)
            savepoint.commit()
            return None
        except psycopg.errors.UniqueViolation:
            # Re-sent spans: rare, so they take the slower path that skips them.
            savepoint.rollback()
        with driver.cursor() as cursor:
            cursor.execute(_PG_STAGING)
            _copy(cursor, "attempts_staging", values)
            cursor.execute(_PG_FROM_STAGING)
            return {(bytes(t), bytes(s)) for t, s in cursor.fetchall()}

    def _insert_sql(self, count: int, *, returning: bool) -> str:
        sql = self._insert_sql_cache.get((count, returning))
        if sql is None:
            one = "(" + ",".join(["?"] * len(_INSERT_COLUMNS)) + ")"
            columns = ",".join(_INSERT_COLUMNS)
            sql = (
                f"INSERT INTO attempts ({columns}) VALUES {','.join([one] * count)} "
                "ON CONFLICT (start_time_unix_nano, trace_id, span_id) DO NOTHING"
            )
            if returning:
                sql += " RETURNING trace_id, span_id"
            self._insert_sql_cache[(count, returning)] = sql
        return sql

    def _count(
        self, conn: Connection, batch: Batch, new_rows: list[AttemptRow], received_ns: int
    ) -> None:
        minute = received_ns // 60_000_000_000 * 60
        stored_by_fleet: dict[str, int] = {}
        attempts_by_fleet: dict[str, int] = {}
        for row in new_rows:
            stored_by_fleet[row.fleet] = stored_by_fleet.get(row.fleet, 0) + 1
        for row in batch.attempts:
            attempts_by_fleet[row.fleet] = attempts_by_fleet.get(row.fleet, 0) + 1
        stats = []
        for fleet in sorted(batch.fleets):
            counts = batch.fleets[fleet]
            stored = stored_by_fleet.get(fleet, 0)
            stats.append(
                {
                    "fleet": fleet,
                    "minute": minute,
                    "export_requests": 1,
                    "spans_received": counts.spans_received,
                    "attempts_stored": stored,
                    "duplicates": attempts_by_fleet.get(fleet, 0) - stored,
                    "rejected": counts.rejected,
                    "other_spans": counts.other_spans,
                    "dropped_attributes": counts.dropped_attributes,
                }
            )
        self._upsert_stats.run(conn, stats)
        if batch.dropped:
            self._upsert_dropped.run(
                conn,
                [
                    {"fleet": fleet, "key": key[:256], "count": count}
                    for (fleet, key), count in sorted(batch.dropped.items())
                ],
            )

    def _segments(self, keys: Iterable[SegmentKey]) -> dict[SegmentKey, int]:
        """Ids for segment keys, creating the missing segments in their own transaction.

        New segments come back from ``INSERT ... RETURNING``; a key that already
        existed (made by another collector, or before this one started) is looked up.
        The cache learns the ids only once the transaction has committed.
        """
        missing = sorted({k for k in keys if k not in self._segment_ids})
        if not missing:
            return self._segment_ids
        found: dict[SegmentKey, int] = {}
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                cursor = conn.connection.cursor()
                try:
                    for offset in range(0, len(missing), _SEGMENT_SLICE):
                        chunk = missing[offset : offset + _SEGMENT_SLICE]
                        if self._sqlite:
                            params = [value for key in chunk for value in key]
                            cursor.execute(_sqlite_segments_sql(len(chunk)), params)
                        else:
                            columns = [list(c) for c in zip(*chunk, strict=True)]
                            cursor.execute(_PG_SEGMENTS, columns)
                        for id_, *dims in cursor.fetchall():
                            found[tuple(dims)] = id_
                    lookup = _SEGMENT_LOOKUP if self._sqlite else _SEGMENT_LOOKUP.replace("?", "%s")
                    for key in missing:
                        if key not in found:
                            cursor.execute(lookup, key)
                            row = cursor.fetchone()
                            assert row is not None, "a segment that conflicted must exist"
                            found[key] = row[0]
                finally:
                    cursor.close()
        self._segment_ids.update(found)
        return self._segment_ids


_SEGMENT_SLICE = 200
_SEGMENT_COLUMNS = ",".join(SEGMENT_DIMENSIONS)
_SEGMENT_LOOKUP = "SELECT id FROM segments WHERE " + " AND ".join(
    f"{d} = ?" for d in SEGMENT_DIMENSIONS
)
_PG_SEGMENTS = (
    f"INSERT INTO segments ({_SEGMENT_COLUMNS}) SELECT * FROM unnest("
    + ",".join(["%s::text[]"] * len(SEGMENT_DIMENSIONS))
    + f") ON CONFLICT DO NOTHING RETURNING id, {_SEGMENT_COLUMNS}"
)


@functools.lru_cache(maxsize=_SEGMENT_SLICE)
def _sqlite_segments_sql(count: int) -> str:
    one = "(" + ",".join(["?"] * len(SEGMENT_DIMENSIONS)) + ")"
    return (
        f"INSERT INTO segments ({_SEGMENT_COLUMNS}) VALUES {','.join([one] * count)} "
        f"ON CONFLICT DO NOTHING RETURNING id, {_SEGMENT_COLUMNS}"
    )


class WriterLock:
    """One SQLite writer at a time, across this process's threads and across processes.

    SQLite allows one writer. Left to itself, a writer that finds the database
    locked sleeps in SQLite's busy handler in steps of up to 100 ms, however soon
    the lock frees. Collector writers instead queue here: threads on a lock, and
    processes (``collector.ingest_workers``) on ``flock`` of a file beside the
    database, polled every fraction of a millisecond up to the busy timeout.
    Other writers (analytics, alerting, the CLI) still meet SQLite's own timeout.
    """

    def __init__(self, database: str | None, *, timeout_ms: int) -> None:
        self._threads = threading.Lock()
        self._timeout = timeout_ms / 1000
        self._fd: int | None = None
        if database and database != ":memory:":
            self._fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> None:
        if not self._threads.acquire(timeout=self._timeout):
            raise StoreBusy("the database is busy; nothing from this request was stored")
        if self._fd is None:
            return
        deadline = time.monotonic() + self._timeout
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._threads.release()
                    raise StoreBusy(
                        "the database is busy; nothing from this request was stored"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


def _is_conflict(exc: Exception) -> bool:
    """Whether a failed write lost a race (deadlock, serialization) and is worth repeating."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text
