"""Every migration runs up, down and up again on SQLite and PostgreSQL, and matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, inspect, select, text

from collector import buckets
from collector.db import make_engine
from collector.schema import REQUEST_QUEUE, REQUEST_ROLLUPS, Base
from collector.writer import QUEUE_KEY
from tierwatch.migrate import downgrade, upgrade


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set()
        upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        # the migrations create exactly what the models describe
        assert diff == []
    finally:
        engine.dispose()


def test_requests_migration_keeps_attempts_and_queues_in_order(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0007")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO segments (fleet, tier, task, model, model_version, device_model,"
                    " region, app_version, node) VALUES ('f', 'device', 't', '', '', '', '', '', '')"
                )
            )
        upgrade(engine, "0008")
        columns = {c["name"] for c in inspect(engine).get_columns("request_rollups")}
        # the columns other code reads, exactly
        assert columns == {
            "segment_id",
            "minute",
            "requests",
            "answered",
            "failed",
            "escalated",
            "served_device",
            "served_edge",
            "served_cloud",
            "attempts_sum",
            "tiers_sum",
            "latency_ms_sum",
            "latency_hist",
            "quality_count",
            "quality_sum",
            "quality_sq_sum",
            "input_tokens_sum",
            "output_tokens_sum",
        }
        with engine.begin() as conn:
            segment = conn.execute(text("SELECT id FROM segments")).scalar_one()
            for span in (b"\x01" * 8, b"\x02" * 8):
                conn.execute(
                    REQUEST_QUEUE.insert().values(
                        attempt_keys=QUEUE_KEY.pack(5, b"\x00" * 16, span)
                    )
                )
            conn.execute(
                REQUEST_ROLLUPS.insert().values(
                    segment_id=segment,
                    minute=60,
                    **dict.fromkeys(columns - {"segment_id", "minute", "latency_hist"}, 0),
                    latency_hist='{"10":1}',
                )
            )
            merged = conn.execute(
                select(func.tw_hist_merge(REQUEST_ROLLUPS.c.latency_hist, '{"10":2,"12":1}'))
            ).scalar_one()
            ids = conn.execute(select(REQUEST_QUEUE.c.id).order_by(REQUEST_QUEUE.c.id)).scalars()
            # queue ids are assigned in insertion order; histograms merge like attempt rollups'
            assert list(ids) == [1, 2]
            assert buckets.decode(merged) == {10: 3, 12: 1}
        downgrade(engine, "0007")
        assert not {"requests", "request_rollups", "request_queue"} & set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()
