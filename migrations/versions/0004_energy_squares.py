"""energy squares: rollups keep the sum of squared energy, so mean energy can be tested

The health report tests mean energy per attempt like the other means (Welch's
test needs the spread). Rows written before this migration hold 0; their energy
means stay correct, and their spread is unknown until new rows arrive.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("rollups", "hourly_rollups")


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("energy_mj_sq_sum", sa.Float(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("energy_mj_sq_sum")
