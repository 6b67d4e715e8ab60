"""advice rollups: local attempts per hour and confidence bucket, with their cloud outcome

The routing what-if (``GET /api/v1/advice``) replays a local tier's confidence
threshold. It reads ``advice_rollups``: per (fleet, task, local tier, model,
hour, confidence bucket) the local attempts, their fallbacks, labelled quality,
latency and energy, and what the same requests got at the cloud. ``advice_hours``
records how many raw attempts each folded hour held, so late attempts are seen.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_INTEGERS = (
    "attempts",
    "forced",
    "low_confidence",
    "local_quality_count",
    "energy_count",
    "local_input_tokens_sum",
    "local_output_tokens_sum",
    "escalated",
    "cloud_quality_count",
    "cloud_input_tokens_sum",
    "cloud_output_tokens_sum",
    "forced_cloud",
    "forced_quality_count",
    "forced_input_tokens_sum",
    "forced_output_tokens_sum",
)
_FLOATS = (
    "local_quality_sum",
    "local_quality_sq_sum",
    "local_latency_ms_sum",
    "energy_mj_sum",
    "cloud_quality_sum",
    "cloud_quality_sq_sum",
    "cloud_energy_mj_sum",
    "forced_quality_sum",
    "forced_quality_sq_sum",
    "forced_energy_mj_sum",
)
_TEXTS = ("local_latency_hist", "cloud_latency_hist", "forced_latency_hist")


def upgrade() -> None:
    op.create_table(
        "advice_rollups",
        sa.Column("task", sa.String(128), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("fleet", sa.String(128), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _INTEGERS),
        *(sa.Column(name, sa.Float(), nullable=False) for name in _FLOATS),
        *(sa.Column(name, sa.Text(), nullable=False) for name in _TEXTS),
        sa.PrimaryKeyConstraint(
            "task", "tier", "fleet", "model", "hour", "bucket", name="pk_advice_rollups"
        ),
    )
    op.create_index("ix_advice_rollups_hour", "advice_rollups", ["hour"])
    op.create_table(
        "advice_hours",
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("source_attempts", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", name="pk_advice_hours"),
    )


def downgrade() -> None:
    op.drop_table("advice_hours")
    op.drop_index("ix_advice_rollups_hour", table_name="advice_rollups")
    op.drop_table("advice_rollups")
