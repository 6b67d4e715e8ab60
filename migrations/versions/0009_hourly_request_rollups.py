"""hourly request rollups: closed hours of request rollups added up, for objectives

Objectives read up to 28 days (or more) of request rollups; analytics folds
closed hours into ``hourly_request_rollups`` so that such a period costs one row
per segment and hour.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_COUNTS = (
    "requests",
    "answered",
    "failed",
    "escalated",
    "served_device",
    "served_edge",
    "served_cloud",
    "attempts_sum",
    "tiers_sum",
)


def upgrade() -> None:
    op.create_table(
        "hourly_request_rollups",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTS),
        sa.Column("latency_ms_sum", sa.Float(), nullable=False),
        sa.Column("latency_hist", sa.Text(), nullable=False),
        sa.Column("quality_count", sa.BigInteger(), nullable=False),
        sa.Column("quality_sum", sa.Float(), nullable=False),
        sa.Column("quality_sq_sum", sa.Float(), nullable=False),
        sa.Column("input_tokens_sum", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens_sum", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_hourly_request_rollups_segment_id_segments"),
        ),
        sa.PrimaryKeyConstraint("segment_id", "hour", name=op.f("pk_hourly_request_rollups")),
    )
    with op.batch_alter_table("hourly_request_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_hourly_request_rollups_hour", ["hour"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("hourly_request_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_hourly_request_rollups_hour")
    op.drop_table("hourly_request_rollups")
