"""Leases: one server at a time does a job (alert evaluation), and a dead server hands over.

A lease is a row in ``leases``: a name, its holder and when it expires. A server
takes a free or expired lease, or renews its own, with one conditional UPDATE,
which PostgreSQL and SQLite both run atomically: when two servers race, the row
lock makes the second re-check the condition and miss. The holder renews it on
every pass; a server that dies stops renewing and another takes over once it
expires. Writes made under a lease renew it in the same transaction
(:func:`hold`), so a server that lost its lease (paused longer than the lease)
cannot write stale results.

Expiry times come from the servers' clocks, which are assumed to agree (NTP) to
well within the lease duration.
"""

from __future__ import annotations

import os
import socket
import uuid

from sqlalchemy import Connection, Engine, and_, case, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from collector.db import WRITE
from collector.schema import LEASES

#: The lease of the alert evaluator.
EVALUATOR = "alert-evaluator"


class LeaseLost(Exception):
    """This server no longer holds the lease, so its results are not written."""


def holder_id() -> str:
    """A name for this server process that no other process shares."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(engine: Engine, *, name: str, holder: str, now: int, ttl_ms: int) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl_ms``; ``True`` if held."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
            insert_stmt = dialect.insert(LEASES)
            inserted = conn.execute(
                insert_stmt.values(
                    name=name, holder=holder, expires_at=now + ttl_ms, acquired_at=now
                ).on_conflict_do_nothing(index_elements=["name"])
            )
            if inserted.rowcount == 1:
                return True
            taken = conn.execute(
                update(LEASES)
                .where(
                    LEASES.c.name == name,
                    or_(LEASES.c.holder == holder, LEASES.c.expires_at < now),
                )
                .values(
                    holder=holder,
                    expires_at=now + ttl_ms,
                    acquired_at=case((LEASES.c.holder == holder, LEASES.c.acquired_at), else_=now),
                )
            )
            return taken.rowcount == 1


def hold(conn: Connection, *, name: str, holder: str, now: int, ttl_ms: int) -> None:
    """Renew the lease inside the caller's write transaction, or raise :class:`LeaseLost`."""
    renewed = conn.execute(
        update(LEASES)
        .where(and_(LEASES.c.name == name, LEASES.c.holder == holder, LEASES.c.expires_at >= now))
        .values(expires_at=now + ttl_ms)
    )
    if renewed.rowcount != 1:
        raise LeaseLost(f"lease {name!r} is no longer held by {holder}")


def release(engine: Engine, *, name: str, holder: str) -> None:
    """Give the lease up (on a clean shutdown), so that another server takes over at once."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE: True})
        with conn.begin():
            conn.execute(
                update(LEASES)
                .where(LEASES.c.name == name, LEASES.c.holder == holder)
                .values(expires_at=0)
            )


def current_holder(conn: Connection, *, name: str, now: int) -> str | None:
    """Who holds the lease ``name`` at ``now`` (``None``: nobody)."""
    row = conn.execute(
        select(LEASES.c.holder, LEASES.c.expires_at).where(LEASES.c.name == name)
    ).first()
    if row is None or row.expires_at < now:
        return None
    return str(row.holder)
