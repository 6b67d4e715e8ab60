"""Assemble queued attempts into requests and keep the per-minute request rollups exact.

Ingestion only queues each attempt it stores (``request_queue``: its primary key,
nothing else), so a request's attempts, which come from different senders and
at different times, cost the ingest transaction one narrow row each. A pass here
takes the oldest queued attempts, reads them from ``attempts`` by primary key,
merges them into their requests' states (:mod:`collector.request_state`), moves
each touched request's contribution in ``request_rollups`` (what it added before
taken away, what it adds now put in), and deletes the queue rows, all in one
transaction: a pass that fails leaves everything as it was, and one that commits
has merged each attempt exactly once. Merging is idempotent besides (a request
remembers the span ids it holds), so an attempt queued twice, e.g. re-sent after
its first copy expired, is merged once.

The touched rollup rows are read, changed in Python and written back, rather
than merged in SQL with negative counts: histograms stay free of zero and
negative buckets, and a row whose requests all moved to another minute goes
away. That is safe because one pass runs at a time: on PostgreSQL under a
transaction-scoped advisory lock (a second server's pass that finds it taken
skips its turn), on SQLite under the database's single writer lock.

This is the write side: it owns and writes collector tables, like ingestion,
and reads only them. Attempts older than the attempts' retention are not
merged: their request may be gone already and would be counted a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, select, tuple_

from collector.db import WRITE, is_sqlite
from collector.request_state import (
    AttemptFacts,
    RequestState,
    RollupDeltas,
    merge,
    new_request,
)
from collector.retention import NS_PER_DAY
from collector.schema import ATTEMPTS, REQUEST_QUEUE, REQUEST_ROLLUPS, REQUESTS
from collector.writer_lock import WriterLock

log = logging.getLogger(__name__)

#: Queued attempts merged per transaction.
BATCH = 2000
#: Keys per ``IN`` list (SQLite allows 32,766 parameters per statement).
_SLICE = 500
#: The advisory lock key one assembler holds on PostgreSQL ("twassemb").
_ASSEMBLER_LOCK = 0x7477_6173_7365_6D62
_FACT_COLUMNS = (
    ATTEMPTS.c.fleet,
    ATTEMPTS.c.trace_id,
    ATTEMPTS.c.span_id,
    ATTEMPTS.c.segment_id,
    ATTEMPTS.c.start_time_unix_nano,
    ATTEMPTS.c.latency_ms,
    ATTEMPTS.c.tier,
    ATTEMPTS.c.attempt,
    ATTEMPTS.c.fallback,
    ATTEMPTS.c.error,
    ATTEMPTS.c.shadow,
    ATTEMPTS.c.quality,
    ATTEMPTS.c.input_tokens,
    ATTEMPTS.c.output_tokens,
)

#: Called inside each pass's transaction before it commits (a lease check, for example).
Fence = Callable[[Connection], None]


class Assembler:
    """Runs assembly passes on one store; keeps what passes share (SQLite's writer lock)."""

    def __init__(self, engine: Engine, *, retention_days: int = 0, batch: int = BATCH) -> None:
        self.engine = engine
        #: The attempts' retention (``collector.retention_days``; 0: kept forever).
        self.retention_days = retention_days
        self.batch = batch
        # On SQLite the pass queues with the collector's writers instead of in the busy handler.
        self._lock = (
            WriterLock(engine.url.database, timeout_ms=30_000) if is_sqlite(engine) else None
        )

    def run(self, *, now_ns: int, fence: Fence | None = None) -> int:
        """Merge every queued attempt into its request; return how many attempts were merged.

        Runs transactions of ``batch`` queued attempts until the queue is empty (or,
        on PostgreSQL, another assembler holds the lock).
        """
        days = self.retention_days
        horizon = now_ns - days * NS_PER_DAY if days > 0 else None
        merged = 0
        while True:
            if self._lock is not None:
                with self._lock:
                    taken, added = _pass(self.engine, self.batch, horizon, fence)
            else:
                taken, added = _pass(self.engine, self.batch, horizon, fence)
            merged += added
            if taken < self.batch:
                break
        if merged:
            log.info("assembled %d attempts into requests", merged)
        return merged

    def close(self) -> None:
        """Let go of the lock file."""
        if self._lock is not None:
            self._lock.close()


def assemble(engine: Engine, *, now_ns: int, retention_days: int = 0, batch: int = BATCH) -> int:
    """One assembly pass over everything queued (see :class:`Assembler`); attempts merged."""
    assembler = Assembler(engine, retention_days=retention_days, batch=batch)
    try:
        return assembler.run(now_ns=now_ns)
    finally:
        assembler.close()


def _pass(engine: Engine, batch: int, horizon: int | None, fence: Fence | None) -> tuple[int, int]:
    """One transaction: (queue rows taken, attempts merged)."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            if (
                not is_sqlite(engine)
                and not conn.exec_driver_sql(
                    f"SELECT pg_try_advisory_xact_lock({_ASSEMBLER_LOCK})"
                ).scalar()
            ):
                return 0, 0
            queued = conn.execute(
                select(REQUEST_QUEUE.c.id, *_FACT_COLUMNS)
                .select_from(
                    REQUEST_QUEUE.outerjoin(
                        ATTEMPTS,
                        and_(
                            ATTEMPTS.c.start_time_unix_nano == REQUEST_QUEUE.c.start_time_unix_nano,
                            ATTEMPTS.c.trace_id == REQUEST_QUEUE.c.trace_id,
                            ATTEMPTS.c.span_id == REQUEST_QUEUE.c.span_id,
                        ),
                    )
                )
                .order_by(REQUEST_QUEUE.c.id)
                .limit(batch)
            ).all()
            if not queued:
                return 0, 0
            facts = [
                _facts(row)
                for row in queued
                # A queued attempt already expired (or too old to have its request kept).
                if row.fleet is not None
                and (horizon is None or row.start_time_unix_nano >= horizon)
            ]
            added = _merge(conn, facts)
            ids = [row.id for row in queued]
            for offset in range(0, len(ids), _SLICE):
                conn.execute(
                    delete(REQUEST_QUEUE).where(
                        REQUEST_QUEUE.c.id.in_(ids[offset : offset + _SLICE])
                    )
                )
            if fence is not None:
                fence(conn)
    return len(queued), added


def _facts(row: Any) -> AttemptFacts:
    return AttemptFacts(
        fleet=row.fleet,
        trace_id=bytes(row.trace_id),
        span_id=bytes(row.span_id),
        segment_id=int(row.segment_id),
        start_time_unix_nano=int(row.start_time_unix_nano),
        latency_ms=float(row.latency_ms),
        tier=row.tier,
        attempt=int(row.attempt) if row.attempt is not None else 1,
        fallback=bool(row.fallback),
        error=bool(row.error),
        shadow=bool(row.shadow),
        quality=row.quality,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
    )


def _merge(conn: Connection, facts: Sequence[AttemptFacts]) -> int:
    """Merge ``facts`` into their requests and move the rollups; how many were new."""
    keys = sorted({(f.fleet, f.trace_id) for f in facts})
    before = _read_requests(conn, keys)
    after = dict(before)
    added = 0
    for fact in facts:
        key = (fact.fleet, fact.trace_id)
        state = after.get(key) or new_request(fact)
        merged = merge(state, fact)
        if merged is not state:
            added += 1
            after[key] = merged
    changed = [key for key in keys if key in after and after[key] != before.get(key)]
    if not changed:
        return added
    deltas = RollupDeltas()
    for key in changed:
        deltas.move(before.get(key), after[key])
    _write_requests(
        conn, [after[key] for key in changed], stored={k for k in changed if k in before}
    )
    _write_rollups(conn, deltas)
    return added


def _read_requests(
    conn: Connection, keys: Sequence[tuple[str, bytes]]
) -> dict[tuple[str, bytes], RequestState]:
    found: dict[tuple[str, bytes], RequestState] = {}
    pk = tuple_(REQUESTS.c.fleet, REQUESTS.c.trace_id)
    for offset in range(0, len(keys), _SLICE):
        part = keys[offset : offset + _SLICE]
        for row in conn.execute(select(REQUESTS).where(pk.in_(part))).mappings():
            values: dict[str, Any] = {
                name: bytes(value) if isinstance(value, memoryview) else value
                for name, value in row.items()
            }
            state = RequestState(**values)
            found[(state.fleet, state.trace_id)] = state
    return found


def _write_requests(
    conn: Connection, states: Sequence[RequestState], *, stored: set[tuple[str, bytes]]
) -> None:
    """Write the changed states: those ``stored`` before are deleted and inserted anew."""
    old = sorted(stored)
    pk = tuple_(REQUESTS.c.fleet, REQUESTS.c.trace_id)
    for offset in range(0, len(old), _SLICE):
        conn.execute(delete(REQUESTS).where(pk.in_(old[offset : offset + _SLICE])))
    conn.execute(REQUESTS.insert(), [asdict(state) for state in states])


def _write_rollups(conn: Connection, deltas: RollupDeltas) -> None:
    keys = deltas.keys()
    pk = tuple_(REQUEST_ROLLUPS.c.segment_id, REQUEST_ROLLUPS.c.minute)
    stored: dict[tuple[int, int], dict[str, Any]] = {}
    for offset in range(0, len(keys), _SLICE):
        part = keys[offset : offset + _SLICE]
        for found in conn.execute(select(REQUEST_ROLLUPS).where(pk.in_(part))).mappings():
            stored[(int(found["segment_id"]), int(found["minute"]))] = dict(found)
    gone = [key for key in keys if key in stored]
    rows = [row for key in keys if (row := deltas.apply(key, stored.get(key))) is not None]
    for offset in range(0, len(gone), _SLICE):
        conn.execute(delete(REQUEST_ROLLUPS).where(pk.in_(gone[offset : offset + _SLICE])))
    if rows:
        conn.execute(REQUEST_ROLLUPS.insert(), rows)
