"""A throwaway database for a benchmark: a temporary SQLite file or a fresh PostgreSQL schema."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from sqlalchemy import create_engine, text


@contextmanager
def scratch_database(backend: str, postgres_url: str) -> Iterator[str]:
    """The URL of an empty database, removed afterwards.

    PostgreSQL gets a schema of its own in ``postgres_url``'s database, selected
    through the URL's ``search_path``, so that every process given the URL uses it.
    """
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="tierwatch-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{postgres_url}?options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
