"""Write a normalised batch: attempts, rollups, devices and counters in one transaction.

The transaction commits before the collector answers, so a 200 means stored.
Attempts are inserted with ``ON CONFLICT DO NOTHING ... RETURNING`` so that only
spans not seen before are folded into rollups: a re-sent span is stored and
counted once, even when two collectors receive it at the same moment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, select
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
    segment_values,
)
from collector.schema import (
    ATTEMPTS,
    DEVICES,
    DROPPED_ATTRIBUTES,
    INGEST_STATS,
    ROLLUPS,
    SEGMENT_DIMENSIONS,
    SEGMENTS,
)

log = logging.getLogger(__name__)

_ATTEMPT_FIELDS = tuple(AttemptRow.__dataclass_fields__)
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

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sqlite = is_sqlite(engine)
        self._segment_ids: dict[SegmentKey, int] = {}
        dialect_insert = sqlite.insert if self._sqlite else postgresql.insert
        least = func.min if self._sqlite else func.least
        greatest = func.max if self._sqlite else func.greatest

        attempts = ATTEMPTS
        self._insert_attempts = (
            dialect_insert(attempts)
            .on_conflict_do_nothing(index_elements=["trace_id", "span_id"])
            .returning(attempts.c.trace_id, attempts.c.span_id)
        )

        rollups = ROLLUPS
        ins = dialect_insert(rollups)
        merged: dict[str, Any] = {c: rollups.c[c] + ins.excluded[c] for c in SUM_COLUMNS}
        for c in HISTOGRAM_COLUMNS:
            merged[c] = func.tw_hist_merge(rollups.c[c], ins.excluded[c])
        self._upsert_rollups = ins.on_conflict_do_update(
            index_elements=["segment_id", "minute", "shadow"], set_=merged
        )

        devices = DEVICES
        ins = dialect_insert(devices)
        newer = ins.excluded.last_seen >= devices.c.last_seen
        same_version = ins.excluded.model_version == devices.c.model_version
        self._upsert_devices = ins.on_conflict_do_update(
            index_elements=["fleet", "device_id", "model"],
            set_={
                "model_version": case(
                    (newer, ins.excluded.model_version), else_=devices.c.model_version
                ),
                "device_model": case(
                    (newer, ins.excluded.device_model), else_=devices.c.device_model
                ),
                "app_version": case((newer, ins.excluded.app_version), else_=devices.c.app_version),
                "version_since": case(
                    (same_version, least(devices.c.version_since, ins.excluded.version_since)),
                    (newer, ins.excluded.version_since),
                    else_=devices.c.version_since,
                ),
                "first_seen": least(devices.c.first_seen, ins.excluded.first_seen),
                "last_seen": greatest(devices.c.last_seen, ins.excluded.last_seen),
            },
        )

        stats = INGEST_STATS
        ins = dialect_insert(stats)
        self._upsert_stats = ins.on_conflict_do_update(
            index_elements=["fleet", "minute"],
            set_={c: stats.c[c] + ins.excluded[c] for c in _STAT_COLUMNS},
        )

        dropped = DROPPED_ATTRIBUTES
        ins = dialect_insert(dropped)
        self._upsert_dropped = ins.on_conflict_do_update(
            index_elements=["fleet", "key"], set_={"count": dropped.c.count + ins.excluded.count}
        )
        self._insert_segments = dialect_insert(SEGMENTS).on_conflict_do_nothing(
            index_elements=list(SEGMENT_DIMENSIONS)
        )

    def write(self, batch: Batch, *, received_ns: int) -> WriteResult:
        """Store ``batch`` in one transaction; raise :class:`StoreBusy` if the database cannot."""
        unique: dict[tuple[bytes, bytes], AttemptRow] = {}
        for row in batch.attempts:
            unique.setdefault((row.trace_id, row.span_id), row)
        rows = sorted(unique.values(), key=lambda r: (r.trace_id, r.span_id))
        for attempt in range(1, _RETRIES + 1):
            try:
                segment_ids = self._segments({segment_key(r) for r in rows})
                stored = self._write_once(batch, rows, segment_ids, received_ns)
                return WriteResult(stored=stored, duplicates=len(batch.attempts) - stored)
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
        segment_ids: dict[SegmentKey, int],
        received_ns: int,
    ) -> int:
        with self.engine.connect() as conn:
            conn = conn.execution_options(**{WRITE: True})
            with conn.begin():
                new_rows = self._insert_attempts_returning_new(conn, rows, segment_ids, received_ns)
                if new_rows:
                    conn.execute(self._upsert_rollups, build_rollups(new_rows, segment_ids))
                    devices = build_devices(new_rows)
                    if devices:
                        conn.execute(self._upsert_devices, devices)
                self._count(conn, batch, new_rows, received_ns)
        return len(new_rows)

    def _insert_attempts_returning_new(
        self,
        conn: Connection,
        rows: list[AttemptRow],
        segment_ids: dict[SegmentKey, int],
        received_ns: int,
    ) -> list[AttemptRow]:
        if not rows:
            return []
        params = []
        for row in rows:
            values = {name: getattr(row, name) for name in _ATTEMPT_FIELDS}
            values["segment_id"] = segment_ids[segment_key(row)]
            values["received_time_unix_nano"] = received_ns
            params.append(values)
        inserted = {(bytes(t), bytes(s)) for t, s in conn.execute(self._insert_attempts, params)}
        return [row for row in rows if (row.trace_id, row.span_id) in inserted]

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
        if stats:
            conn.execute(self._upsert_stats, stats)
        if batch.dropped:
            conn.execute(
                self._upsert_dropped,
                [
                    {"fleet": fleet, "key": key[:256], "count": count}
                    for (fleet, key), count in sorted(batch.dropped.items())
                ],
            )

    def _segments(self, keys: Iterable[SegmentKey]) -> dict[SegmentKey, int]:
        """Ids for segment keys, creating the missing segments in their own transaction."""
        missing = sorted(k for k in keys if k not in self._segment_ids)
        if missing:
            table = SEGMENTS
            with self.engine.connect() as conn:
                conn = conn.execution_options(**{WRITE: True})
                with conn.begin():
                    conn.execute(self._insert_segments, [segment_values(k) for k in missing])
                    for key in missing:
                        condition = and_(
                            *(table.c[d] == v for d, v in zip(SEGMENT_DIMENSIONS, key, strict=True))
                        )
                        self._segment_ids[key] = conn.execute(
                            select(table.c.id).where(condition)
                        ).scalar_one()
        return self._segment_ids


def _is_conflict(exc: Exception) -> bool:
    """Whether a failed write lost a race (deadlock, serialization) and is worth repeating."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text
