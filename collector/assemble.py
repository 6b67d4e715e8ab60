"""Assemble queued attempts into requests and keep the per-minute request rollups exact.

Ingestion only queues the attempts it stores: each ingest transaction adds one
``request_queue`` row holding their primary keys, nothing else, so a request's
attempts, which come from different senders and at different times, cost it
almost nothing. A pass here takes the oldest queue rows, reads their attempts
from ``attempts`` by primary key, merges them into their requests' states
(:mod:`collector.request_state`), and then, in one transaction, writes the
states, moves each touched request's contribution in ``request_rollups`` (what
it added before taken away, what it adds now put in) and deletes the queue
rows: a pass that fails leaves everything as it was, and one that commits has
merged each attempt exactly once. Merging is idempotent besides (a request
remembers the span ids it holds), so an attempt queued twice, e.g. re-sent after
its first copy expired, is merged once.

The touched rollup rows are read, changed in Python and written back, rather
than merged in SQL with negative counts: histograms stay free of zero and
negative buckets, and a row whose requests all moved to another minute goes
away. That is safe because one pass runs at a time, and nothing else writes
``requests`` or ``request_rollups`` (retention aside): on PostgreSQL the pass
holds an advisory lock on its connection, on SQLite a lock file beside the database; a
second server whose pass finds it taken skips its turn. A pass reads and
computes first and takes the write lock only to write, so ingestion (which
shares SQLite's single writer) waits for the writes alone.

This is the write side: it owns and writes collector tables, like ingestion,
and reads only them. Attempts older than the attempts' retention are not
merged: their request may be gone already and would be counted a second time.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select, tuple_

from collector.db import WRITE, is_sqlite
from collector.request_state import (
    SPAN_ID_BYTES,
    AttemptFacts,
    RequestState,
    RollupDeltas,
    RollupKey,
    merge,
    new_request,
)
from collector.retention import NS_PER_DAY
from collector.schema import REQUEST_QUEUE, REQUEST_ROLLUPS, REQUESTS
from collector.writer import QUEUE_KEY
from collector.writer_lock import WriterLock

log = logging.getLogger(__name__)

#: Queued attempts merged per pass.
BATCH = 5000
#: Keys per ``IN`` list (SQLite allows 32,766 parameters per statement).
_SLICE = 500
#: Attempt keys per statement that reads attempts on SQLite (three parameters each).
_KEY_SLICE = 2000
#: Queue rows read at a time.
_QUEUE_ROWS = 16
#: The advisory lock key one assembler holds on PostgreSQL ("twassemb").
_ASSEMBLER_LOCK = 0x7477_6173_7365_6D62
_STATE_FIELDS = RequestState._fields


class Assembler:
    """Runs assembly passes on one store; keeps what passes share (SQLite's lock files)."""

    def __init__(self, engine: Engine, *, retention_days: int = 0, batch: int = BATCH) -> None:
        self.engine = engine
        #: The attempts' retention (``collector.retention_days``; 0: kept forever).
        self.retention_days = retention_days
        self.batch = batch
        self._sqlite = is_sqlite(engine)
        database = engine.url.database if self._sqlite else None
        # On SQLite the writes queue with the collector's writers instead of in the busy
        # handler, and one assembler runs at a time across processes.
        self._writer_lock = WriterLock(database, timeout_ms=30_000) if self._sqlite else None
        self._pass_fd: int | None = None
        if database and database != ":memory:":
            self._pass_fd = os.open(f"{database}-assembler.lock", os.O_RDWR | os.O_CREAT, 0o644)
        self._threads = threading.Lock()

    def run(self, *, now_ns: int) -> int:
        """Merge every queued attempt into its request; return how many attempts were merged.

        Runs passes of ``batch`` queued attempts until the queue is empty, or returns
        0 at once when another assembler is running.
        """
        days = self.retention_days
        horizon = now_ns - days * NS_PER_DAY if days > 0 else None
        merged = 0
        with self.engine.connect() as conn:
            if not self._claim(conn):
                return 0
            try:
                while True:
                    taken, added = self._pass(conn, horizon)
                    merged += added
                    if taken < self.batch:
                        break
            finally:
                self._release(conn)
        if merged:
            log.info("assembled %d attempts into requests", merged)
        return merged

    def close(self) -> None:
        """Let go of the lock files."""
        if self._writer_lock is not None:
            self._writer_lock.close()
        if self._pass_fd is not None:
            os.close(self._pass_fd)
            self._pass_fd = None

    def _claim(self, conn: Connection) -> bool:
        """Whether this assembler may run now: no other one is (in any process or server)."""
        if not self._threads.acquire(blocking=False):
            return False
        if self._sqlite:
            if self._pass_fd is not None:
                try:
                    fcntl.flock(self._pass_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self._threads.release()
                    return False
            return True
        held = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({_ASSEMBLER_LOCK})").scalar()
        conn.commit()
        if not held:
            self._threads.release()
        return bool(held)

    def _release(self, conn: Connection) -> None:
        try:
            if self._sqlite:
                if self._pass_fd is not None:
                    fcntl.flock(self._pass_fd, fcntl.LOCK_UN)
            else:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({_ASSEMBLER_LOCK})")
                conn.commit()
        finally:
            self._threads.release()

    def _pass(self, conn: Connection, horizon: int | None) -> tuple[int, int]:
        """Read, merge and write one batch: (attempt keys taken, attempts merged)."""
        with conn.begin():
            ids, keys = _take_queue(conn, self.batch)
            if not ids:
                return 0, 0
            found = _read_attempts(conn, keys) if keys else []
            by_request: dict[tuple[str, bytes], list[AttemptFacts]] = {}
            for fact in found:
                # Attempts already expired are not found; those too old to have their
                # request kept are left out.
                if horizon is not None and fact.start_time_unix_nano < horizon:
                    continue
                by_request.setdefault((fact.fleet, fact.trace_id), []).append(fact)
            before = _read_requests(conn, sorted(by_request))
            after: dict[tuple[str, bytes], RequestState] = {}
            added = 0
            for key, facts in by_request.items():
                state = before.get(key) or new_request(facts[0])
                merged = merge(state, *facts)
                if merged is not state:
                    added += (len(merged.span_ids) - len(state.span_ids)) // SPAN_ID_BYTES
                    after[key] = merged
            deltas = RollupDeltas()
            for key, state in after.items():
                deltas.move(before.get(key), state)
            stored = _read_rollups(conn, deltas.touched())
        touched = deltas.touched()
        rows = [new for key in touched if (new := deltas.apply(key, stored.get(key))) is not None]
        lock = self._writer_lock if self._writer_lock is not None else contextlib.nullcontext()
        with lock:
            conn.execution_options(**{WRITE: True})
            try:
                with conn.begin():
                    _delete_ids(conn, ids)
                    _delete_requests(conn, sorted(k for k in after if k in before))
                    if after:
                        _insert(conn, REQUESTS, _STATE_FIELDS, after.values())
                    _delete(
                        conn,
                        REQUEST_ROLLUPS,
                        (REQUEST_ROLLUPS.c.segment_id, REQUEST_ROLLUPS.c.minute),
                        sorted(stored),
                    )
                    if rows:
                        conn.execute(REQUEST_ROLLUPS.insert(), rows)
            finally:
                conn.execution_options(**{WRITE: False})
        return len(keys), added


def assemble(engine: Engine, *, now_ns: int, retention_days: int = 0, batch: int = BATCH) -> int:
    """One assembly run over everything queued (see :class:`Assembler`); attempts merged."""
    assembler = Assembler(engine, retention_days=retention_days, batch=batch)
    try:
        return assembler.run(now_ns=now_ns)
    finally:
        assembler.close()


def queued_attempts(engine: Engine) -> int:
    """How many stored attempts wait to be assembled (the queue's keys)."""
    with engine.connect() as conn:
        size = conn.execute(
            select(func.coalesce(func.sum(func.length(REQUEST_QUEUE.c.attempt_keys)), 0))
        ).scalar_one()
    return int(size) // QUEUE_KEY.size


def _take_queue(conn: Connection, batch: int) -> tuple[list[int], list[tuple[int, bytes, bytes]]]:
    """The oldest queue rows holding about ``batch`` attempt keys: their ids and the keys."""
    ids: list[int] = []
    keys: list[tuple[int, bytes, bytes]] = []
    size = QUEUE_KEY.size
    while len(keys) < batch:
        rows = conn.execute(
            select(REQUEST_QUEUE.c.id, REQUEST_QUEUE.c.attempt_keys)
            .where(REQUEST_QUEUE.c.id > (ids[-1] if ids else -1))
            .order_by(REQUEST_QUEUE.c.id)
            .limit(_QUEUE_ROWS)
        ).all()
        for id_, packed in rows:
            ids.append(int(id_))
            keys += QUEUE_KEY.iter_unpack(bytes(packed)) if len(packed) % size == 0 else []
            if len(keys) >= batch:
                break
        if len(rows) < _QUEUE_ROWS:
            break
    return ids, keys


def _read_attempts(
    conn: Connection, keys: Sequence[tuple[int, bytes, bytes]]
) -> list[AttemptFacts]:
    """The stored attempts with ``keys`` (their primary keys), each found by its key."""
    columns = ",".join(f"a.{name}" for name in AttemptFacts._fields)
    on = "a.start_time_unix_nano = k.s AND a.trace_id = k.t AND a.span_id = k.p"
    cursor = conn.connection.cursor()
    found: list[AttemptFacts] = []
    try:
        if conn.dialect.name == "postgresql":
            starts, traces, spans = (list(c) for c in zip(*keys, strict=True))
            cursor.execute(
                f"SELECT {columns} FROM unnest(%s::int8[], %s::bytea[], %s::bytea[]) AS k(s, t, p)"
                f" JOIN attempts a ON {on}",
                [starts, traces, spans],
            )
            found += map(AttemptFacts._make, cursor.fetchall())
        else:
            for offset in range(0, len(keys), _KEY_SLICE):
                part = keys[offset : offset + _KEY_SLICE]
                values = ",".join(["(?,?,?)"] * len(part))
                cursor.execute(
                    f"WITH k(s, t, p) AS (VALUES {values}) SELECT {columns} FROM k"
                    f" JOIN attempts a ON {on}",
                    [value for key in part for value in key],
                )
                found += map(AttemptFacts._make, cursor.fetchall())
    finally:
        cursor.close()
    return found


def _read_requests(
    conn: Connection, keys: Sequence[tuple[str, bytes]]
) -> dict[tuple[str, bytes], RequestState]:
    """The stored states of the requests ``keys`` (fleet, trace id) that exist."""
    wanted = set(keys)
    found: dict[tuple[str, bytes], RequestState] = {}
    select_sql = f"SELECT {','.join(_STATE_FIELDS)} FROM requests WHERE trace_id"
    for row in _rows_in(conn, select_sql, sorted({trace for _, trace in keys})):
        state = RequestState(*row)
        key = (state.fleet, bytes(state.trace_id))
        if key in wanted:
            found[key] = state
    return found


def _read_rollups(conn: Connection, keys: Sequence[RollupKey]) -> dict[RollupKey, dict[str, Any]]:
    stored: dict[RollupKey, dict[str, Any]] = {}
    pk = tuple_(REQUEST_ROLLUPS.c.segment_id, REQUEST_ROLLUPS.c.minute)
    for offset in range(0, len(keys), _SLICE):
        part = keys[offset : offset + _SLICE]
        for found in conn.execute(select(REQUEST_ROLLUPS).where(pk.in_(part))).mappings():
            stored[(int(found["segment_id"]), int(found["minute"]))] = dict(found)
    return stored


def _delete(conn: Connection, table: Table, key: tuple[Any, ...], values: Sequence[Any]) -> None:
    """Delete the rows of ``table`` whose ``key`` columns hold one of ``values``."""
    match = tuple_(*key)
    for offset in range(0, len(values), _SLICE):
        conn.execute(delete(table).where(match.in_(values[offset : offset + _SLICE])))


def _rows_in(conn: Connection, sql: str, values: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run ``sql`` (ending in a column) ``IN values`` on the driver's cursor; all rows."""
    cursor = conn.connection.cursor()
    out: list[tuple[Any, ...]] = []
    try:
        if conn.dialect.name == "postgresql":
            # One array parameter: the statement is the same for any number of values.
            cursor.execute(sql + " = ANY(%s)", [list(values)])
            out += cursor.fetchall()
        else:
            for offset in range(0, len(values), _SLICE):
                part = values[offset : offset + _SLICE]
                cursor.execute(sql + f" IN ({','.join(['?'] * len(part))})", part)
                out += cursor.fetchall()
    finally:
        cursor.close()
    return out


def _delete_ids(conn: Connection, ids: Sequence[int]) -> None:
    """Delete the queue rows ``ids`` (they are merged)."""
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            cursor.execute("DELETE FROM request_queue WHERE id = ANY(%s)", [list(ids)])
        else:
            for offset in range(0, len(ids), _SLICE):
                part = ids[offset : offset + _SLICE]
                cursor.execute(
                    f"DELETE FROM request_queue WHERE id IN ({','.join(['?'] * len(part))})", part
                )
    finally:
        cursor.close()


def _delete_requests(conn: Connection, keys: Sequence[tuple[str, bytes]]) -> None:
    """Delete the stored states of requests ``keys`` (fleet, trace id); they are written anew."""
    cursor = conn.connection.cursor()
    try:
        mark = "%s" if conn.dialect.name == "postgresql" else "?"
        cursor.executemany(
            f"DELETE FROM requests WHERE trace_id = {mark} AND fleet = {mark}",
            [(trace, fleet) for fleet, trace in keys],
        )
    finally:
        cursor.close()


def _insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """Insert tuples of ``columns`` values with the driver's executemany."""
    style = conn.dialect.paramstyle
    marks = ",".join(["?" if style == "qmark" else "%s"] * len(columns))
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(
            f"INSERT INTO {table.name} ({','.join(columns)}) VALUES ({marks})", list(rows)
        )
    finally:
        cursor.close()
