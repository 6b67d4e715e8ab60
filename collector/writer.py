"""What each database dialect does for :class:`collector.store.Store`.

The store runs one transaction per batch the same way on every database; a
:class:`Writer` supplies the parts that differ: how attempts go in fast (and
which were new when some were re-sent), how segments are created, the INSERT
construct and the LEAST/GREATEST functions of the upserts, and the lock around
writes.
"""

from __future__ import annotations

import contextlib
import operator
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from collector.normalise import AttemptRow
from collector.rollup import SegmentKey
from collector.schema import SEGMENT_DIMENSIONS

_ATTEMPT_FIELDS = tuple(AttemptRow.__dataclass_fields__)
_attempt_values = operator.attrgetter(*_ATTEMPT_FIELDS)
#: The ``attempts`` columns a writer fills, in the order of each row's values.
INSERT_COLUMNS = (*_ATTEMPT_FIELDS, "segment_id", "received_time_unix_nano")
#: Segment keys per INSERT statement.
SEGMENT_SLICE = 200
SEGMENT_COLUMNS = ",".join(SEGMENT_DIMENSIONS)
#: The id of one segment, by its dimensions (``?`` placeholders).
SEGMENT_LOOKUP = "SELECT id FROM segments WHERE " + " AND ".join(
    f"{d} = ?" for d in SEGMENT_DIMENSIONS
)

#: (trace id, span id) of attempts.
AttemptIds = set[tuple[bytes, bytes]]
#: An attempt's primary key as ``request_queue`` holds it, packed: start time, trace id, span id.
QUEUE_KEY = struct.Struct(">q16s8s")
#: The attempt rows in the form a writer sends them.
Prepared = TypeVar("Prepared")


def attempt_values(
    rows: Sequence[AttemptRow], segment_ids: Sequence[int], received_ns: int
) -> list[tuple[Any, ...]]:
    """Attempt rows as tuples of :data:`INSERT_COLUMNS` values."""
    return [(*_attempt_values(r), i, received_ns) for r, i in zip(rows, segment_ids, strict=True)]


class Writer(ABC, Generic[Prepared]):
    """How one database dialect writes attempts and segments."""

    #: SQLAlchemy's INSERT construct with this dialect's ON CONFLICT.
    insert: Callable[..., Any]
    #: SQL's smaller and larger of two values.
    least: Any
    greatest: Any
    #: :data:`SEGMENT_LOOKUP` in the driver's parameter style.
    segment_lookup: str
    #: Held around every write transaction.
    lock: AbstractContextManager[Any] = contextlib.nullcontext()

    @abstractmethod
    def prepare(
        self, rows: Sequence[AttemptRow], segment_ids: Sequence[int], received_ns: int
    ) -> Prepared:
        """The attempt rows in the form :meth:`insert_attempts` sends them.

        Called before the lock is taken, so that this CPU work is not serialised.
        """

    @abstractmethod
    def insert_attempts(self, conn: Connection, prepared: Prepared) -> AttemptIds | None:
        """Insert the attempts: ``None`` when every one was new, else the ids of the new ones."""

    def queue_attempts(self, conn: Connection, rows: Sequence[AttemptRow]) -> None:
        """Queue newly stored attempts for the request assembler: one ``request_queue`` row.

        The row holds the attempts' primary keys packed one after the other
        (:data:`QUEUE_KEY`), so a batch costs one small insert whatever its size.
        """
        if not rows:
            return
        pack = QUEUE_KEY.pack
        keys = b"".join(pack(r.start_time_unix_nano, r.trace_id, r.span_id) for r in rows)
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        cursor = conn.connection.cursor()
        try:
            cursor.execute(f"INSERT INTO request_queue (attempt_keys) VALUES ({mark})", (keys,))
        finally:
            cursor.close()

    def lock_segments(self, conn: Connection) -> None:
        """Hold, until the transaction ends, the lock that serialises new dimension values.

        Only needed where :attr:`lock` does not already serialise writers across
        processes (see :mod:`collector.cardinality`).
        """

    @abstractmethod
    def insert_segments(self, cursor: Any, keys: Sequence[SegmentKey]) -> None:
        """Execute an INSERT of ``keys`` that skips existing ones and returns (id, *dimensions)."""

    def create_segments(self, cursor: Any, keys: Sequence[SegmentKey]) -> dict[SegmentKey, int]:
        """Ids for new segment keys: inserted, or looked up where another writer was first."""
        found: dict[SegmentKey, int] = {}
        for offset in range(0, len(keys), SEGMENT_SLICE):
            self.insert_segments(cursor, keys[offset : offset + SEGMENT_SLICE])
            for id_, *dims in cursor.fetchall():
                found[tuple(dims)] = id_
        for key in keys:
            if key not in found:
                cursor.execute(self.segment_lookup, key)
                row = cursor.fetchone()
                assert row is not None, "a segment that conflicted must exist"
                found[key] = row[0]
        return found
