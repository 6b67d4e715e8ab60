"""The outbox: notification rows written with the state change, claimed, sent and recorded.

Every notification to a hook is a ``deliveries`` row, inserted in the same
transaction as the alert state change that causes it, so a change is never
written without its notification nor the other way round. Delivery workers
(one per server) take due rows with :func:`claim`, which sets a claim until a
deadline in its own short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so servers never wait on each other; SQLite's single writer serialises claims).
The worker sends outside any transaction and then :func:`record` commits the
outcome, fenced by the claim. A server that dies between claim and record leaves
the claim to expire; the row is then sent again with the same ``webhook-id``.
Delivery is therefore at least once: a crash after the receiver's 2xx and
before the record commits repeats that notification, and receivers de-duplicate
by ``webhook-id``.

Rows of one alert to one hook go out in order: a row is not claimed while an
earlier row of the same alert and hook is still pending (a resolution never
overtakes its firing notification).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Engine, and_, exists, insert, or_, select, update

from collector.db import WRITE
from collector.schema import DELIVERIES

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DEAD = "dead"


@dataclass(frozen=True)
class Claimed:
    """A notification this server is about to send (``attempts`` counts this one)."""

    id: int
    webhook_id: str
    hook: str
    kind: str
    body: str
    attempts: int
    created_at: int


def enqueue(
    conn: Connection,
    *,
    webhook_id: str,
    hook: str,
    kind: str,
    event: str,
    body: str,
    fingerprint: str | None,
    fleet: str | None,
    now: int,
) -> int:
    """Write a notification row in the caller's transaction; return its id."""
    result = conn.execute(
        insert(DELIVERIES)
        .values(
            webhook_id=webhook_id,
            hook=hook,
            kind=kind,
            event=event,
            fingerprint=fingerprint,
            fleet=fleet,
            body=body,
            status=PENDING,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
        )
        .returning(DELIVERIES.c.id)
    )
    return int(result.scalar_one())


def _due(now: int) -> ColumnElement[bool]:
    """Pending, due, unclaimed, and no earlier pending row of the same alert and hook."""
    table = DELIVERIES
    earlier = DELIVERIES.alias("earlier")
    return and_(
        table.c.status == PENDING,
        table.c.next_attempt_at <= now,
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
        ~exists().where(
            earlier.c.hook == table.c.hook,
            earlier.c.fingerprint == table.c.fingerprint,
            earlier.c.status == PENDING,
            earlier.c.id < table.c.id,
        ),
    )


def claim(
    engine: Engine,
    *,
    holder: str,
    now: int,
    claim_ms: int,
    limit: int,
    ids: list[int] | None = None,
) -> list[Claimed]:
    """Claim up to ``limit`` due notifications (only ``ids`` when given) until ``now + claim_ms``.

    Claiming counts an attempt, so an attempt cut short by a crash is counted too.
    """
    table = DELIVERIES
    condition = _due(now)
    if ids is not None:
        condition = and_(condition, table.c.id.in_(ids))
    with engine.connect() as conn:
        # A cheap read first: most passes find nothing and need no write lock.
        if conn.execute(select(table.c.id).where(condition).limit(1)).first() is None:
            return []
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            query = select(table.c.id).where(condition).order_by(table.c.id).limit(limit)
            if engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True, of=table)
            chosen = [row.id for row in conn.execute(query)]
            if not chosen:
                return []
            conn.execute(
                update(table)
                .where(table.c.id.in_(chosen))
                .values(
                    claimed_by=holder,
                    claimed_until=now + claim_ms,
                    attempts=table.c.attempts + 1,
                )
            )
            rows = conn.execute(
                select(
                    table.c.id,
                    table.c.webhook_id,
                    table.c.hook,
                    table.c.kind,
                    table.c.body,
                    table.c.attempts,
                    table.c.created_at,
                )
                .where(table.c.id.in_(chosen))
                .order_by(table.c.id)
            ).mappings()
            return [Claimed(**row) for row in rows]


def record(
    engine: Engine,
    *,
    delivery_id: int,
    holder: str,
    status: str,
    now: int,
    status_code: int | None,
    error: str | None,
    next_attempt_at: int | None = None,
) -> bool:
    """Commit an attempt's outcome; ``False`` if the claim was lost meanwhile (nothing written)."""
    table = DELIVERIES
    values: dict[str, object] = {
        "status": status,
        "last_status_code": status_code,
        "last_error": error,
        "claimed_by": None,
        "claimed_until": None,
    }
    if status == DELIVERED:
        values["delivered_at"] = now
    if status == PENDING and next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            result = conn.execute(
                update(table)
                .where(table.c.id == delivery_id, table.c.claimed_by == holder)
                .values(**values)
            )
            return result.rowcount == 1
