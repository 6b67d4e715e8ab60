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

An Alertmanager hook gets batches instead (event ``batch``, no fingerprint, one
fleet): every alert it should know of, re-sent every ``resend_interval``
(:mod:`analytics.alerting.batches`). Batches of one hook and fleet go out in
order too, and a new batch makes the older ones still waiting ``superseded``:
it says everything they said, newer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from collector.db import WRITE
from collector.schema import DELIVERIES

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
DEAD = "dead"
SUPERSEDED = "superseded"
STATUSES = (PENDING, DELIVERED, FAILED, DEAD, SUPERSEDED)
#: The event of an Alertmanager batch row.
BATCH = "batch"


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
    """Pending, due, unclaimed, and no earlier pending row of the same alert (or batch) and hook."""
    table = DELIVERIES
    earlier = DELIVERIES.alias("earlier")
    same_batch = and_(
        table.c.event == BATCH, earlier.c.event == BATCH, earlier.c.fleet == table.c.fleet
    )
    return and_(
        table.c.status == PENDING,
        table.c.next_attempt_at <= now,
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
        ~exists().where(
            earlier.c.hook == table.c.hook,
            or_(earlier.c.fingerprint == table.c.fingerprint, same_batch),
            earlier.c.status == PENDING,
            earlier.c.id < table.c.id,
        ),
    )


def prune_batches(conn: Connection, *, hook: str, fleet: str, before: int) -> int:
    """Delete the finished batches of ``hook`` and ``fleet`` written before ``before``.

    Batches are re-sent every minute or so, and each says everything the older ones
    said: the finished ones are history no one reads, kept for ``alerts.max_age``.
    """
    table = DELIVERIES
    result = conn.execute(
        delete(table).where(
            table.c.hook == hook,
            table.c.fleet == fleet,
            table.c.event == BATCH,
            table.c.status != PENDING,
            table.c.created_at < before,
        )
    )
    return int(result.rowcount)


def last_batches(conn: Connection) -> dict[tuple[str, str], int]:
    """When the newest batch of each (hook, fleet) was written (Unix ms)."""
    table = DELIVERIES
    rows = conn.execute(
        select(table.c.hook, table.c.fleet, func.max(table.c.created_at))
        .where(table.c.event == BATCH)
        .group_by(table.c.hook, table.c.fleet)
    )
    return {(hook, fleet or ""): int(at) for hook, fleet, at in rows}


def supersede(conn: Connection, *, hook: str, fleet: str, newer: int, now: int) -> int:
    """Mark the waiting batches of ``hook`` and ``fleet`` older than row ``newer`` superseded.

    A batch being sent right now (claimed) is left alone; the newer one waits for it.
    """
    table = DELIVERIES
    result = conn.execute(
        update(table)
        .where(
            table.c.hook == hook,
            table.c.fleet == fleet,
            table.c.event == BATCH,
            table.c.status == PENDING,
            table.c.id < newer,
            or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
        )
        .values(
            status=SUPERSEDED,
            last_error=f"superseded by delivery {newer}",
            claimed_by=None,
            claimed_until=None,
        )
    )
    return int(result.rowcount)


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
