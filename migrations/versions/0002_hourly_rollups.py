"""hourly rollups and analytics state: closed hours of minute rollups, added up

Analytics folds every closed hour of ``rollups`` into one ``hourly_rollups`` row per
(segment, hour, shadow) and keeps its watermark in ``analytics_state``, so that a
report over a day reads 24 rows per segment instead of 1,440.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_SUMS = (
    ("attempts", sa.BigInteger()),
    ("requests", sa.BigInteger()),
    ("errors", sa.BigInteger()),
    ("fallbacks", sa.BigInteger()),
    ("fallback_low_confidence", sa.BigInteger()),
    ("fallback_error", sa.BigInteger()),
    ("fallback_timeout", sa.BigInteger()),
    ("fallback_offline", sa.BigInteger()),
    ("fallback_thermal", sa.BigInteger()),
    ("fallback_battery", sa.BigInteger()),
    ("fallback_oom", sa.BigInteger()),
    ("fallback_other", sa.BigInteger()),
    ("cloud_escalations", sa.BigInteger()),
    ("sensitive", sa.BigInteger()),
    ("privacy_violations", sa.BigInteger()),
    ("offline", sa.BigInteger()),
    ("thermal_throttled", sa.BigInteger()),
    ("latency_ms_sum", sa.Float()),
    ("confidence_count", sa.BigInteger()),
    ("confidence_sum", sa.Float()),
    ("confidence_sq_sum", sa.Float()),
    ("quality_count", sa.BigInteger()),
    ("quality_sum", sa.Float()),
    ("quality_sq_sum", sa.Float()),
    ("energy_count", sa.BigInteger()),
    ("energy_mj_sum", sa.Float()),
    ("input_tokens_sum", sa.BigInteger()),
    ("output_tokens_sum", sa.BigInteger()),
    ("latency_hist", sa.Text()),
    ("confidence_hist", sa.Text()),
)


def upgrade() -> None:
    op.create_table(
        "hourly_rollups",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        *(sa.Column(name, kind, nullable=False) for name, kind in _SUMS),
        sa.ForeignKeyConstraint(
            ["segment_id"], ["segments.id"], name=op.f("fk_hourly_rollups_segment_id_segments")
        ),
        sa.PrimaryKeyConstraint("segment_id", "hour", "shadow", name=op.f("pk_hourly_rollups")),
    )
    with op.batch_alter_table("hourly_rollups", schema=None) as batch_op:
        batch_op.create_index("ix_hourly_rollups_hour", ["hour"], unique=False)
    op.create_table(
        "analytics_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_analytics_state")),
    )


def downgrade() -> None:
    op.drop_table("analytics_state")
    with op.batch_alter_table("hourly_rollups", schema=None) as batch_op:
        batch_op.drop_index("ix_hourly_rollups_hour")
    op.drop_table("hourly_rollups")
