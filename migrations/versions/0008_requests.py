"""requests: attempts assembled into requests, with per-minute request rollups

A request is one trace; its attempts (one per tier tried) arrive from different
senders, late or re-sent. Each ingest transaction queues the keys of the
attempts it stored (one ``request_queue`` row); the assembler folds the queue
into ``requests`` (each request's state) and ``request_rollups`` (per segment of
the first attempt and minute of its start), moving a request's contribution
when a late attempt changes it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_queue",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("attempt_keys", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_queue")),
    )
    op.create_table(
        "requests",
        sa.Column("trace_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("fleet", sa.String(length=128), nullable=False),
        sa.Column("start_time_unix_nano", sa.BigInteger(), nullable=False),
        sa.Column("segment_id", sa.Integer(), nullable=True),
        sa.Column("first_attempt", sa.Integer(), nullable=True),
        sa.Column("first_tier", sa.String(length=16), nullable=True),
        sa.Column("first_span_id", sa.LargeBinary(length=8), nullable=True),
        sa.Column("served_attempt", sa.Integer(), nullable=True),
        sa.Column("served_start_unix_nano", sa.BigInteger(), nullable=True),
        sa.Column("served_latency_ms", sa.Float(), nullable=True),
        sa.Column("served_tier", sa.String(length=16), nullable=True),
        sa.Column("served_quality", sa.Float(), nullable=True),
        sa.Column("served_span_id", sa.LargeBinary(length=8), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("tiers", sa.Integer(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("span_ids", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_requests_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("trace_id", "fleet", name=op.f("pk_requests")),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_requests_start_time_unix_nano", ["start_time_unix_nano"], unique=False
        )
    op.create_table(
        "request_rollups",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("answered", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("escalated", sa.BigInteger(), nullable=False),
        sa.Column("served_device", sa.BigInteger(), nullable=False),
        sa.Column("served_edge", sa.BigInteger(), nullable=False),
        sa.Column("served_cloud", sa.BigInteger(), nullable=False),
        sa.Column("attempts_sum", sa.BigInteger(), nullable=False),
        sa.Column("tiers_sum", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("latency_hist", sa.Text(), nullable=False),
        sa.Column("quality_count", sa.BigInteger(), nullable=False),
        sa.Column("quality_sum", sa.Float(), nullable=False),
        sa.Column("quality_sq_sum", sa.Float(), nullable=False),
        sa.Column("input_tokens_sum", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens_sum", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_request_rollups_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("segment_id", "minute", name=op.f("pk_request_rollups")),
    )
    with op.batch_alter_table("request_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_request_rollups_minute", ["minute"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_request_rollups_minute")
    op.drop_table("request_rollups")
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_start_time_unix_nano")
    op.drop_table("requests")
    op.drop_table("request_queue")
