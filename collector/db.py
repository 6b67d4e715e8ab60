"""Database engines for the store, tuned per backend.

SQLite runs in WAL mode so that readers never block the writer, with
``synchronous=NORMAL``: a committed transaction survives the process being
killed (it is in the WAL before COMMIT returns); only an operating-system crash
or power loss can take back the last commits. Writers take the lock at BEGIN
(``BEGIN IMMEDIATE``) so that two writers never deadlock upgrading a read lock.
PostgreSQL uses psycopg 3 with a bounded pool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from collector import buckets

#: Execution option that makes a SQLite transaction take the write lock at BEGIN.
WRITE = "tierwatch_write"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` and ``postgres://`` URLs."""
    parsed = make_url(
        url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url
    )
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, *, pool_size: int = 8, busy_timeout_ms: int = 5000) -> Engine:
    """An engine for ``url`` with the settings the collector relies on."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):
            # One shared connection: each new one would open an empty database.
            engine = create_engine(url, poolclass=StaticPool)
        else:
            engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=5)
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=5,
        pool_pre_ping=True,
    )


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event emit BEGIN itself (the pysqlite recipe).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()
        dbapi_connection.create_function("tw_hist_merge", 2, buckets.merge, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")
