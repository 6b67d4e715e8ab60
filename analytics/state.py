"""``analytics_state``: the named positions analytics keeps, such as watermarks and floors.

Each is a Unix time that only moves forward: a slower concurrent pass that
finishes after a faster one must not move it back.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from collector.schema import ANALYTICS_STATE


def read_state(conn: Connection, name: str) -> int | None:
    """The value of ``name`` (Unix seconds), or ``None`` before it was first set."""
    value = conn.execute(
        select(ANALYTICS_STATE.c.value).where(ANALYTICS_STATE.c.name == name)
    ).scalar()
    return None if value is None else int(value)


def raise_state(conn: Connection, name: str, value: int) -> None:
    """Set ``name`` to ``value`` unless it is already later."""
    postgres = conn.dialect.name == "postgresql"
    statement = (postgresql if postgres else sqlite).insert(ANALYTICS_STATE)
    statement = statement.values(name=name, value=value)
    greatest = func.greatest if postgres else func.max
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[ANALYTICS_STATE.c.name],
            set_={"value": greatest(ANALYTICS_STATE.c.value, statement.excluded.value)},
        )
    )
