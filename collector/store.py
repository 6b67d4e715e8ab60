"""Write a normalised batch: attempts, rollups, devices and counters in one transaction.

The new attempts are also queued (one ``request_queue`` row of their keys) for the
request assembler (:mod:`collector.assemble`), which folds them into requests later.

The transaction commits before the collector answers, so a 200 means stored.
Only attempts that were not stored before are folded into rollups, so a re-sent
span is stored and counted once, even when two collectors receive it at the same
moment. The usual case, where every attempt is new, takes the dialect writer's
fast path: a plain multi-row INSERT on SQLite (:mod:`collector.sqlite_writer`;
it reports how many rows it added) and a binary COPY on PostgreSQL
(:mod:`collector.postgres_writer`; a duplicate key fails it). Only when that
shows re-sent spans is the slice inserted again with ``ON CONFLICT DO NOTHING
... RETURNING`` to learn which attempts are new.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, func
from sqlalchemy import exc as sa_exc

from collector.cardinality import OVERFLOW, Folds, ValueLimits, folded_dimensions
from collector.db import WRITE, is_sqlite
from collector.errors import StoreBusy
from collector.normalise import AttemptRow, Batch
from collector.postgres_writer import PostgresWriter
from collector.rollup import (
    HISTOGRAM_COLUMNS,
    SUM_COLUMNS,
    SegmentKey,
    build_devices,
    build_rollups,
    segment_key,
)
from collector.schema import (
    DEVICES,
    DROPPED_ATTRIBUTES,
    INGEST_STATS,
    LATE_HOURS,
    ROLLUPS,
    VALUE_OVERFLOW,
)
from collector.sqlite_writer import SQLiteWriter
from collector.writer import Writer

log = logging.getLogger(__name__)


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
_HOUR = 3600


#: (fleet, dimension)
Pair = tuple[str, str]


@dataclass(frozen=True)
class WriteResult:
    """What a write stored, and what the cardinality limits folded of it."""

    stored: int
    duplicates: int
    #: (fleet, dimension) -> stored attempts whose value was folded into ``__other__``.
    folded_attempts: dict[Pair, int] = field(default_factory=dict)
    #: (fleet, dimension) -> distinct values folded for the first time in this process.
    folded_values: dict[Pair, int] = field(default_factory=dict)


@dataclass
class _Folded:
    """The rows of one batch that the limits changed, and the new distinct values."""

    #: (trace id, span id) -> dimensions folded
    rows: dict[tuple[bytes, bytes], list[str]]
    values: dict[Pair, int]
    attempts: dict[Pair, int] = field(default_factory=dict)


class Store:
    """The collector's writer: one transaction per batch, through the database's :class:`Writer`.

    Stateless between requests apart from a segment-id cache and what the cardinality
    limits know of the stored values (:mod:`collector.cardinality`).
    """

    def __init__(
        self, engine: Engine, *, busy_timeout_ms: int = 5000, limits: ValueLimits | None = None
    ) -> None:
        self.engine = engine
        self.limits = limits or ValueLimits()
        self._writer: Writer[Any] = (
            SQLiteWriter(engine, busy_timeout_ms=busy_timeout_ms)
            if is_sqlite(engine)
            else PostgresWriter()
        )
        self._segment_ids: dict[SegmentKey, int] = {}
        dialect_insert, least, greatest = (
            self._writer.insert,
            self._writer.least,
            self._writer.greatest,
        )

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

        late = LATE_HOURS
        ins = dialect_insert(late)
        self._note_late_hours = _DriverStatement(
            ins.on_conflict_do_update(
                index_elements=["hour"], set_={"version": late.c.version + ins.excluded.version}
            ),
            engine,
        )

        overflow = VALUE_OVERFLOW
        ins = dialect_insert(overflow)
        self._upsert_overflow = _DriverStatement(
            ins.on_conflict_do_update(
                index_elements=["fleet", "dimension"],
                set_={
                    "attempts": overflow.c.attempts + ins.excluded.attempts,
                    "distinct_values": overflow.c.distinct_values + ins.excluded.distinct_values,
                    "last_seen": greatest(overflow.c.last_seen, ins.excluded.last_seen),
                },
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
        folded: _Folded | None = None
        segment_ids: list[int] = []
        for attempt in range(1, _RETRIES + 1):
            try:
                if folded is None:
                    keys = [segment_key(r) for r in rows]
                    known, folds = self._segments(keys)
                    folded = _fold(rows, keys, folds)
                    segment_ids = [known[k] for k in keys]
                stored = self._write_once(batch, rows, segment_ids, received_ns, folded)
                return WriteResult(
                    stored=stored,
                    duplicates=len(batch.attempts) - stored,
                    folded_attempts=folded.attempts,
                    folded_values=folded.values,
                )
            except (sa_exc.OperationalError, sa_exc.TimeoutError, sa_exc.InterfaceError) as exc:
                if attempt < _RETRIES and _is_conflict(exc):
                    time.sleep(0.01 * attempt)
                    continue
                log.warning("store unavailable: %s", exc)
                raise StoreBusy() from exc
        raise AssertionError("unreachable")

    def _write_once(
        self,
        batch: Batch,
        rows: list[AttemptRow],
        segment_ids: list[int],
        received_ns: int,
        folded: _Folded,
    ) -> int:
        writer = self._writer
        # What needs no lock is done before taking it: the rows as the writer sends
        # them, and their rollups and device states, on the usual assumption that
        # none of them is a duplicate.
        prepared = writer.prepare(rows, segment_ids, received_ns)
        rollups = build_rollups(rows, segment_ids)
        devices = build_devices(rows)
        with writer.lock, self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                inserted = writer.insert_attempts(conn, prepared)
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
                writer.queue_attempts(conn, rows)
                self._upsert_rollups.run(conn, rollups)
                self._note_late_hours.run(conn, _late_hours(rollups, received_ns))
                self._upsert_devices.run(conn, devices)
                self._count(conn, batch, rows, received_ns)
                if folded.rows or folded.values:
                    self._count_folded(conn, rows, folded, received_ns)
        return len(rows)

    def _count_folded(
        self, conn: Connection, new_rows: list[AttemptRow], folded: _Folded, received_ns: int
    ) -> None:
        """Count the stored attempts and the new distinct values the limits folded."""
        attempts: dict[Pair, int] = {}
        for row in new_rows:
            dims = folded.rows.get((row.trace_id, row.span_id))
            if dims:
                for dim in dims:
                    attempts[(row.fleet, dim)] = attempts.get((row.fleet, dim), 0) + 1
        folded.attempts = attempts
        seen = received_ns // 1_000_000_000
        self._upsert_overflow.run(
            conn,
            [
                {
                    "fleet": fleet,
                    "dimension": dim,
                    "attempts": attempts.get((fleet, dim), 0),
                    "distinct_values": folded.values.get((fleet, dim), 0),
                    "last_seen": seen,
                }
                for fleet, dim in sorted(attempts.keys() | folded.values.keys())
            ],
        )

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

    def _segments(self, keys: Iterable[SegmentKey]) -> tuple[dict[SegmentKey, int], Folds]:
        """Ids for segment keys within the limits, creating the missing segments.

        A key already known costs one lookup. The others go through the cardinality
        limits: values this process cannot decide are decided against the stored
        segments, in the transaction that creates the new ones and under the lock
        that serialises it, so that no other writer adds values in between. The
        returned :class:`Folds` maps each key that broke a limit to the key it is
        stored under. New segments come back from ``INSERT ... RETURNING``; a key
        that already existed (made by another collector, or before this one
        started) is looked up. The cache learns the ids only once the transaction
        has committed.
        """
        ids = self._segment_ids
        missing = sorted({k for k in keys if k not in ids})
        if not missing:
            return ids, Folds()
        limits = self.limits
        candidates = limits.unknown(missing)
        folds = limits.fold(missing, {})
        create = sorted({folds.keys.get(k, k) for k in missing} - ids.keys())
        if not candidates and not create:
            return ids, folds
        with self._writer.lock, self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                if candidates:
                    self._writer.lock_segments(conn)
                    limits.admit(conn, candidates)
                    folds = limits.fold(missing, candidates)
                    create = sorted({folds.keys.get(k, k) for k in missing} - ids.keys())
                cursor = conn.connection.cursor()
                try:
                    found = self._writer.create_segments(cursor, create)
                finally:
                    cursor.close()
        ids.update(found)
        return ids, folds


def _fold(rows: list[AttemptRow], keys: list[SegmentKey], folds: Folds) -> _Folded:
    """Store ``rows`` under the keys the limits allow: rewrite their values and ``keys``."""
    marks: dict[tuple[bytes, bytes], list[str]] = {}
    if folds:
        for i, (row, key) in enumerate(zip(rows, keys, strict=True)):
            stored = folds.keys.get(key)
            if stored is None:
                continue
            dims = folded_dimensions(key, stored)
            for dim in dims:
                setattr(row, dim, OVERFLOW)
            keys[i] = stored
            marks[(row.trace_id, row.span_id)] = dims
    return _Folded(rows=marks, values=dict(folds.values))


def _late_hours(rollups: list[dict[str, Any]], received_ns: int) -> list[dict[str, Any]]:
    """The hours before the previous one that ``rollups`` add to, noted for compaction.

    Compaction re-checks its last few hours anyway; older hours are rewritten only
    when noted here, so attempts held back on a device for days still reach them.
    """
    before = received_ns // 1_000_000_000 // _HOUR * _HOUR - _HOUR
    hours = {row["minute"] // _HOUR * _HOUR for row in rollups if row["minute"] < before}
    return [{"hour": hour, "version": 1} for hour in sorted(hours)]


def _is_conflict(exc: Exception) -> bool:
    """Whether a failed write lost a race (deadlock, serialization) and is worth repeating."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text
