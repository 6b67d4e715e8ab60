"""Build the collector's ingest path from settings, in the server or in a worker process.

Kept apart from :mod:`tierwatch.app` so that ingest worker processes import only
the write side.
"""

from __future__ import annotations

from sqlalchemy import Engine

from collector.cardinality import ValueLimits
from collector.db import make_engine
from collector.ingest import Ingestor
from collector.normalise import Normaliser
from collector.store import Store
from tierwatch.settings import Settings


def build_ingestor(settings: Settings, engine: Engine) -> Ingestor:
    """An ingestor writing through ``engine`` with the settings' limits and policies."""
    return Ingestor(
        store=Store(
            engine,
            busy_timeout_ms=settings.database.busy_timeout_ms,
            limits=ValueLimits(settings.collector.value_limits()),
        ),
        normaliser=Normaliser(
            allowlist=settings.collector.attribute_allowlist,
            sensitive_allowed_tiers=settings.privacy.allowed_tiers,
            max_future_skew_seconds=settings.collector.max_future_skew_seconds,
        ),
        max_body_bytes=settings.collector.max_body_bytes,
    )


def ingestor_from_json(settings_json: str) -> Ingestor:
    """The factory each ingest worker process runs once: its own engine and ingestor."""
    settings = Settings.model_validate_json(settings_json)
    engine = make_engine(
        settings.database.engine_url(),
        pool_size=2,
        busy_timeout_ms=settings.database.busy_timeout_ms,
    )
    return build_ingestor(settings, engine)
