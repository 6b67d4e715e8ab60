"""initial schema: segments, attempts, rollups, devices, ingest counters, tokens

PostgreSQL also gets ``tw_hist_merge(a, b)``, which adds two sparse JSON
histograms; SQLite registers the same function from Python on every connection.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

HIST_MERGE_FUNCTION = """
CREATE OR REPLACE FUNCTION tw_hist_merge(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(
        jsonb_object_agg(bucket, total ORDER BY bucket::int)::text, '{}')
    FROM (
        SELECT key AS bucket, sum(value::bigint) AS total
        FROM (
            SELECT * FROM jsonb_each_text(coalesce(nullif(a, ''), '{}')::jsonb)
            UNION ALL
            SELECT * FROM jsonb_each_text(coalesce(nullif(b, ''), '{}')::jsonb)
        ) AS pairs
        GROUP BY key
    ) AS sums
$$
"""


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("fleet", sa.String(length=128), nullable=False),
        sa.Column("device_id", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("device_model", sa.String(length=128), nullable=False),
        sa.Column("app_version", sa.String(length=64), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("version_since", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fleet", "device_id", "model", name=op.f("pk_devices")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.create_index("ix_devices_fleet_last_seen", ["fleet", "last_seen"], unique=False)

    op.create_table(
        "dropped_attributes",
        sa.Column("fleet", sa.String(length=128), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fleet", "key", name=op.f("pk_dropped_attributes")),
    )
    op.create_table(
        "ingest_stats",
        sa.Column("fleet", sa.String(length=128), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("export_requests", sa.BigInteger(), nullable=False),
        sa.Column("spans_received", sa.BigInteger(), nullable=False),
        sa.Column("attempts_stored", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
        sa.Column("other_spans", sa.BigInteger(), nullable=False),
        sa.Column("dropped_attributes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fleet", "minute", name=op.f("pk_ingest_stats")),
    )
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fleet", sa.String(length=128), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("task", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("device_model", sa.String(length=128), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("app_version", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint(
            "fleet",
            "tier",
            "task",
            "model",
            "model_version",
            "device_model",
            "region",
            "app_version",
            "node",
            name="uq_segments_dimensions",
        ),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("fleet", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_tokens_token_hash")),
    )
    op.create_table(
        "attempts",
        sa.Column("trace_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("span_id", sa.LargeBinary(length=8), nullable=False),
        sa.Column("parent_span_id", sa.LargeBinary(length=8), nullable=True),
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("start_time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("received_time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("fleet", sa.String(length=128), nullable=False),
        sa.Column("service_name", sa.String(length=128), nullable=True),
        sa.Column("app_version", sa.String(length=64), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("device_model", sa.String(length=128), nullable=True),
        sa.Column("os_name", sa.String(length=64), nullable=True),
        sa.Column("os_version", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=True),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("environment", sa.String(length=64), nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("task", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("model_version", sa.String(length=64), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("route_reason", sa.String(length=32), nullable=True),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("fallback_reason", sa.String(length=32), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("quality", sa.Float(), nullable=True),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("privacy", sa.String(length=16), nullable=True),
        sa.Column("privacy_violation", sa.Boolean(), nullable=False),
        sa.Column("network", sa.String(length=16), nullable=True),
        sa.Column("energy_mj", sa.Float(), nullable=True),
        sa.Column("thermal", sa.String(length=16), nullable=True),
        sa.Column("quantization", sa.String(length=16), nullable=True),
        sa.Column("input_tokens", sa.BigInteger(), nullable=True),
        sa.Column("output_tokens", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.Boolean(), nullable=False),
        sa.Column("error_type", sa.String(length=128), nullable=True),
        sa.Column("extra", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_attempts_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint(
            "start_time_unix_nano", "trace_id", "span_id", name=op.f("pk_attempts")
        ),
    )

    op.create_table(
        "rollups",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("fallbacks", sa.BigInteger(), nullable=False),
        sa.Column("fallback_low_confidence", sa.BigInteger(), nullable=False),
        sa.Column("fallback_error", sa.BigInteger(), nullable=False),
        sa.Column("fallback_timeout", sa.BigInteger(), nullable=False),
        sa.Column("fallback_offline", sa.BigInteger(), nullable=False),
        sa.Column("fallback_thermal", sa.BigInteger(), nullable=False),
        sa.Column("fallback_battery", sa.BigInteger(), nullable=False),
        sa.Column("fallback_oom", sa.BigInteger(), nullable=False),
        sa.Column("fallback_other", sa.BigInteger(), nullable=False),
        sa.Column("cloud_escalations", sa.BigInteger(), nullable=False),
        sa.Column("sensitive", sa.BigInteger(), nullable=False),
        sa.Column("privacy_violations", sa.BigInteger(), nullable=False),
        sa.Column("offline", sa.BigInteger(), nullable=False),
        sa.Column("thermal_throttled", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("confidence_count", sa.BigInteger(), nullable=False),
        sa.Column("confidence_sum", sa.Float(), nullable=False),
        sa.Column("confidence_sq_sum", sa.Float(), nullable=False),
        sa.Column("quality_count", sa.BigInteger(), nullable=False),
        sa.Column("quality_sum", sa.Float(), nullable=False),
        sa.Column("quality_sq_sum", sa.Float(), nullable=False),
        sa.Column("energy_count", sa.BigInteger(), nullable=False),
        sa.Column("energy_mj_sum", sa.Float(), nullable=False),
        sa.Column("input_tokens_sum", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_hist", sa.Text(), nullable=False),
        sa.Column("confidence_hist", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_rollups_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("segment_id", "minute", "shadow", name=op.f("pk_rollups")),
    )
    with op.batch_alter_table("rollups", schema=None) as batch_op:
        batch_op.create_index("ix_rollups_minute", ["minute"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(HIST_MERGE_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tw_hist_merge(text, text)")
    with op.batch_alter_table("rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_rollups_minute")

    op.drop_table("rollups")
    op.drop_table("attempts")
    op.drop_table("tokens")
    op.drop_table("segments")
    op.drop_table("ingest_stats")
    op.drop_table("dropped_attributes")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_fleet_last_seen")

    op.drop_table("devices")
