"""cardinality: attempts whose dimension value went over the fleet's limit

The collector stores at most ``collector.max_values`` distinct values per fleet
and dimension; beyond that a value is stored as ``__other__``. This table counts,
per fleet and dimension, the attempts folded so and the distinct values folded.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "value_overflow",
        sa.Column("fleet", sa.String(128), nullable=False),
        sa.Column("dimension", sa.String(32), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("distinct_values", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fleet", "dimension", name="pk_value_overflow"),
    )


def downgrade() -> None:
    op.drop_table("value_overflow")
